import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { HostTarget } from '../../config/hosts';
import { hostFailure } from './errors';
import { sha256File } from './file-hash';
import { TailBuffer, type ExecOptions, type ExecResult, type HostSession, type UploadOptions, type UploadResult } from './session';

/** The machine kk runs on (`localhost`, `connector.type: local`): commands run directly and files are copied. */
export class LocalSession implements HostSession {
  constructor(readonly target: HostTarget) {}

  exec(cmd: string, options: ExecOptions = {}): Promise<ExecResult> {
    const asRoot = options.sudo && process.getuid?.() !== 0;
    const [file, args] = asRoot ? ['sudo', ['-n', '--', 'sh', '-c', cmd]] : ['sh', ['-c', cmd]];
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
      const stdout = new TailBuffer();
      const stderr = new TailBuffer();
      const timer = options.timeoutMs
        ? setTimeout(() => {
            child.kill('SIGKILL');
            reject(hostFailure('SshTimeout', `${this.target.name} (local): command did not finish within ${Math.round(options.timeoutMs! / 1000)}s`));
          }, options.timeoutMs)
        : undefined;
      child.stdout.on('data', (d: Buffer) => stdout.push(d));
      child.stderr.on('data', (d: Buffer) => stderr.push(d));
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal: signal ?? undefined, stdout: stdout.toString(), stderr: stderr.toString() });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.stdin ?? '');
    });
  }

  /**
   * Copies into a directory made fresh (mkdtemp: 0700, exclusive) beside the target, so a file or symlink another
   * user planted at a predictable name is never written through; then renames into place (rename replaces a symlink
   * at the target instead of following it) and checks the hash of the final path.
   */
  async upload(localPath: string, remotePath: string, options: UploadOptions = {}): Promise<UploadResult> {
    const sha256 = await sha256File(localPath);
    if (isRegularFile(remotePath) && (await sha256File(remotePath)) === sha256) return { sha256, skipped: true, bytesSent: 0, resumedFrom: 0 };
    const total = fs.statSync(localPath).size;
    fs.mkdirSync(path.dirname(remotePath), { recursive: true });
    const stagingDir = fs.mkdtempSync(path.join(path.dirname(remotePath), '.kk-upload-'));
    try {
      const staging = path.join(stagingDir, path.basename(remotePath));
      await pipeline(fs.createReadStream(localPath), fs.createWriteStream(staging, { mode: options.mode ?? 0o644, flags: 'wx' }), { signal: options.signal });
      options.onProgress?.(total, total);
      if ((await sha256File(staging)) !== sha256) throw hostFailure('UploadCorrupt', `${remotePath}: copy does not match its source`);
      fs.chmodSync(staging, options.mode ?? 0o644);
      fs.renameSync(staging, remotePath);
    } finally {
      fs.rmSync(stagingDir, { recursive: true, force: true });
    }
    if (!isRegularFile(remotePath) || (await sha256File(remotePath)) !== sha256) throw hostFailure('UploadCorrupt', `${remotePath}: the file in place does not match its source`);
    return { sha256, skipped: false, bytesSent: total, resumedFrom: 0 };
  }

  close(): void {}
}

function isRegularFile(file: string): boolean {
  try {
    return fs.lstatSync(file).isFile();
  } catch {
    return false;
  }
}
