import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { describeHost } from '../../config/hosts';
import type { SshConnection } from './connection';
import { hostFailure, isHostFailure } from './errors';
import { sha256File } from './file-hash';
import { command, sh } from './quote';
import type { UploadOptions, UploadResult } from './session';

/** sha256 of a file on the host, or undefined when it does not exist. */
export async function remoteSha256(conn: Pick<SshConnection, 'exec'>, file: string): Promise<string | undefined> {
  const r = await conn.exec(sh`if [ -f ${file} ]; then sha256sum -- ${file}; fi`, { sudo: true, timeoutMs: 600_000 });
  const hex = /^([0-9a-f]{64})\s/.exec(r.stdout)?.[1];
  return r.code === 0 ? hex : undefined;
}

/**
 * Upload that survives a dropped connection: bytes go to a staging file on the host; a later call resumes after
 * the bytes the host acknowledged (its size), then the host's sha256 is checked before the file is moved into place.
 * A host that already has the file with the same hash receives nothing.
 */
export async function uploadOverSftp(conn: SshConnection, localPath: string, remotePath: string, options: UploadOptions): Promise<UploadResult> {
  const where = describeHost(conn.target);
  const total = fs.statSync(localPath).size;
  const sha256 = await sha256File(localPath);
  if ((await remoteSha256(conn, remotePath)) === sha256) return { sha256, skipped: true, bytesSent: 0, resumedFrom: 0 };

  // A root login stages beside the target; any other user stages in /tmp (its own), then sudo moves it into place.
  const staging = conn.isRoot ? `${remotePath}.kkpart-${sha256.slice(0, 12)}` : `/tmp/.kkupload-${conn.target.user}-${sha256.slice(0, 16)}`;
  await mustExec(conn, command('mkdir', '-p', path.posix.dirname(remotePath)), true, where);
  const sftp = await conn.sftp();
  // Writes are issued in order with at most WINDOW in flight, so every byte below (size - WINDOW chunks) landed.
  const stagedSize = (await statSize(sftp, staging)) ?? 0;
  let offset = stagedSize > total ? 0 : Math.max(0, Math.floor(stagedSize / CHUNK) * CHUNK - WINDOW * CHUNK);
  const resumedFrom = offset;

  if (offset < total) {
    await writeWindowed(conn, sftp, localPath, staging, offset, total, options, where);
  }

  const staged = await remoteSha256(conn, staging);
  if (staged !== sha256) {
    await conn.exec(command('rm', '-f', staging), { sudo: true });
    throw hostFailure('UploadCorrupt', `${where}: ${remotePath} arrived with sha256 ${staged ?? 'none'}, expected ${sha256}; it will be sent again`);
  }
  const mode = (options.mode ?? 0o644).toString(8);
  await mustExec(conn, sh`chmod ${mode} ${staging} && chown root:root ${staging} && mv -f ${staging} ${remotePath}`, true, where);
  return { sha256, skipped: false, bytesSent: total - resumedFrom, resumedFrom };
}

const CHUNK = 64 * 1024;
const WINDOW = 16;

/** Streams [offset, total) of a local file into a remote file with several SFTP writes in flight. */
async function writeWindowed(
  conn: SshConnection,
  sftp: SFTPWrapper,
  localPath: string,
  remotePath: string,
  offset: number,
  total: number,
  options: UploadOptions,
  where: string,
): Promise<void> {
  const local = await fs.promises.open(localPath, 'r');
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(remotePath, offset > 0 ? 'r+' : 'w', 0o600, (err, h) => (err ? reject(err) : resolve(h))),
  ).catch((err: Error) => {
    void local.close();
    throw hostFailure('SshConnectionLost', `${where}: cannot open ${remotePath} (${err.message})`);
  });
  let next = offset;
  let acked = offset;
  const done = new Map<number, number>();
  try {
    await new Promise<void>((resolve, reject) => {
      let inFlight = 0;
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        conn.offClose(onClose);
        options.signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onClose = () => fail(hostFailure('SshConnectionLost', `${where}: upload of ${path.basename(localPath)} interrupted at ${acked}/${total} bytes`));
      const onAbort = () => fail(options.signal!.reason ?? new Error('aborted'));
      conn.onClose(onClose);
      options.signal?.addEventListener('abort', onAbort);
      const pump = () => {
        if (failed) return;
        if (acked >= total && inFlight === 0) {
          conn.offClose(onClose);
          options.signal?.removeEventListener('abort', onAbort);
          return resolve();
        }
        while (!failed && inFlight < WINDOW && next < total) {
          const position = next;
          const length = Math.min(CHUNK, total - position);
          next += length;
          inFlight++;
          const buffer = Buffer.allocUnsafe(length);
          local.read(buffer, 0, length, position).then(
            () =>
              sftp.write(handle, buffer, 0, length, position, (err) => {
                inFlight--;
                if (err) return fail(hostFailure('SshConnectionLost', `${where}: write failed at ${position} (${err.message})`));
                // Progress is the contiguous prefix the host acknowledged.
                done.set(position, length);
                while (done.has(acked)) {
                  const len = done.get(acked)!;
                  done.delete(acked);
                  acked += len;
                }
                options.onProgress?.(acked, total);
                pump();
              }),
            (err: Error) => fail(err),
          );
        }
      };
      pump();
    });
  } finally {
    await local.close();
    sftp.close(handle, () => undefined);
  }
}

function statSize(sftp: SFTPWrapper, file: string): Promise<number | undefined> {
  return new Promise((resolve) => sftp.stat(file, (err: Error | undefined, st: Stats) => resolve(err ? undefined : st.size)));
}

async function mustExec(conn: Pick<SshConnection, 'exec'>, cmd: string, sudo: boolean, where: string): Promise<void> {
  const r = await conn.exec(cmd, { sudo, timeoutMs: 120_000 });
  if (r.code !== 0) throw hostFailure('PermissionDenied', `${where}: "${cmd}" failed: ${r.stderr.trim() || `exit ${r.code}`}`);
}
