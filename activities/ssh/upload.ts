import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { describeHost } from '../../config/hosts';
import type { SshConnection } from './connection';
import { hostFailure, isHostFailure } from './errors';
import { sha256File } from './file-hash';
import { command, sh } from './quote';
import type { UploadOptions, UploadResult } from './session';

/** sha256 of a regular file on the host, or undefined when there is none (a symlink counts as none: never followed). */
export async function remoteSha256(conn: Pick<SshConnection, 'exec'>, file: string, sudo = true): Promise<string | undefined> {
  const r = await conn.exec(sh`if [ -f ${file} ] && [ ! -L ${file} ]; then sha256sum -- ${file}; fi`, { sudo, timeoutMs: 600_000 });
  const hex = /^([0-9a-f]{64})\s/.exec(r.stdout)?.[1];
  return r.code === 0 ? hex : undefined;
}

/** The login user's staging directory on a host: in its home, so that no other user can write into it. */
export const STAGING_DIR_NAME = '.kk-staging';

/** The staging file's name for a content: stable, so that a retry finds the bytes an interrupted transfer left. */
export function stagingFileName(sha256: string): string {
  return `${sha256}.part`;
}

/**
 * Makes (or checks) `$HOME/.kk-staging` as the login user, in a home the login user owns and no one else can write
 * (another user could rename the staging directory away and put their own in its place): a real directory (a symlink
 * there is removed, not followed), owned by the login user, mode 0700; and removes anything at the staging file's
 * path that is not a regular file. Prints the directory's absolute path. Only the login user (and root) can then write there, so the
 * SFTP write (which follows links) cannot be redirected by another local user, as it could in /tmp.
 */
const PREPARE_STAGING = `set -e
d="$HOME/${STAGING_DIR_NAME}"
case "$d" in /*) ;; *) echo "home directory $HOME is not absolute" >&2; exit 1 ;; esac
[ "$(stat -L -c %u -- "$HOME")" = "$(id -u)" ] || { echo "home directory $HOME is not owned by $(id -un): kk stages uploads only where no other user can replace them" >&2; exit 1; }
case "$(stat -L -c %A -- "$HOME")" in ?????w????|????????w?) echo "home directory $HOME is writable by other users ($(stat -L -c %A -- "$HOME")): another user could replace the staging directory; chmod go-w $HOME" >&2; exit 1 ;; esac
if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then rm -f -- "$d"; fi
[ -d "$d" ] || mkdir -m 0700 -- "$d"
if [ "$(stat -c %u -- "$d")" != "$(id -u)" ]; then echo "$d is not owned by $(id -un)" >&2; exit 1; fi
chmod 0700 -- "$d"
f="$d/$1"
if [ -L "$f" ] || { [ -e "$f" ] && [ ! -f "$f" ]; }; then rm -rf -- "$f"; fi
printf '%s\\n' "$d"`;

/**
 * Moves a verified staging file into place as root, never following a link: the source must be a regular file;
 * within one filesystem it is renamed (atomic); across filesystems it is copied into a file mktemp creates
 * exclusively beside the target, then renamed. `mv -T` replaces a symlink at the target instead of writing through
 * it, and refuses to move into a directory of that name.
 */
const MOVE_INTO_PLACE = `set -e
src=$1 dst=$2 mode=$3
[ -f "$src" ] && [ ! -L "$src" ] || { echo "staging file $src is not a regular file" >&2; exit 1; }
dir=$(dirname -- "$dst")
if [ "$(stat -c %d -- "$(dirname -- "$src")")" = "$(stat -c %d -- "$dir")" ]; then
  chown root:root -- "$src" && chmod "$mode" -- "$src" && mv -fT -- "$src" "$dst"
else
  tmp=$(mktemp -- "$dir/.kk-upload.XXXXXXXX")
  trap 'rm -f -- "$tmp"' EXIT
  cat -- "$src" > "$tmp" && chown root:root -- "$tmp" && chmod "$mode" -- "$tmp" && mv -fT -- "$tmp" "$dst"
  trap - EXIT
  rm -f -- "$src"
fi`;

/**
 * Upload that survives a dropped connection: bytes go to a staging file in the login user's own staging directory
 * (named by the content's hash); a later call resumes after the bytes the host acknowledged (its size). The staged
 * file's sha256 is checked, it is moved into place as root, and the hash of the final path is checked again (what
 * counts is what ended up there). A host that already has the file with the same hash receives nothing.
 */
export async function uploadOverSftp(conn: SshConnection, localPath: string, remotePath: string, options: UploadOptions): Promise<UploadResult> {
  const where = describeHost(conn.target);
  const total = fs.statSync(localPath).size;
  const sha256 = await sha256File(localPath);
  if ((await remoteSha256(conn, remotePath)) === sha256) return { sha256, skipped: true, bytesSent: 0, resumedFrom: 0 };

  const name = stagingFileName(sha256);
  const prepared = await conn.exec(`${command('sh', '-c', PREPARE_STAGING, 'sh', name)}`, { timeoutMs: 120_000 });
  const stagingDir = prepared.stdout.trim();
  if (prepared.code !== 0 || !stagingDir.startsWith('/')) {
    throw hostFailure('PermissionDenied', `${where}: cannot prepare the staging directory ~/${STAGING_DIR_NAME}: ${prepared.stderr.trim() || `exit ${prepared.code}`}`);
  }
  const staging = path.posix.join(stagingDir, name);
  await mustExec(conn, command('mkdir', '-p', '--', path.posix.dirname(remotePath)), true, where);
  const sftp = await conn.sftp();
  // Writes are issued in order with at most WINDOW in flight, so every byte below (size - WINDOW chunks) landed.
  const stagedSize = (await statSize(sftp, staging)) ?? 0;
  let offset = stagedSize > total ? 0 : Math.max(0, Math.floor(stagedSize / CHUNK) * CHUNK - WINDOW * CHUNK);
  const resumedFrom = offset;

  if (offset < total) {
    await writeWindowed(conn, sftp, localPath, staging, offset, total, options, where);
  }

  const staged = await remoteSha256(conn, staging, false);
  if (staged !== sha256) {
    await conn.exec(command('rm', '-f', '--', staging));
    throw hostFailure('UploadCorrupt', `${where}: ${remotePath} arrived with sha256 ${staged ?? 'none'}, expected ${sha256}; it will be sent again`);
  }
  const mode = (options.mode ?? 0o644).toString(8);
  await mustExec(conn, command('sh', '-c', MOVE_INTO_PLACE, 'sh', staging, remotePath, mode), true, where, `moving ${staging} to ${remotePath}`);
  const placed = await remoteSha256(conn, remotePath);
  if (placed !== sha256) {
    throw hostFailure('UploadCorrupt', `${where}: ${remotePath} has sha256 ${placed ?? 'none'} after the move into place, expected ${sha256}; it will be sent again`);
  }
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

async function mustExec(conn: Pick<SshConnection, 'exec'>, cmd: string, sudo: boolean, where: string, what = `"${cmd}"`): Promise<void> {
  const r = await conn.exec(cmd, { sudo, timeoutMs: 120_000 });
  if (r.code !== 0) throw hostFailure('PermissionDenied', `${where}: ${what} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
}
