import type { HostTarget } from '../../config/hosts';

export interface ExecOptions {
  /** Run as root: through sudo when the login user is not root (password on stdin, never on the command line). */
  sudo?: boolean;
  /** Data written to the command's stdin. */
  stdin?: string | Buffer;
  /** Per-command limit; on expiry the channel is closed and a retryable SshTimeout is thrown. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface UploadOptions {
  mode?: number;
  /** Called as bytes are acknowledged by the host, for heartbeats. */
  onProgress?: (offset: number, total: number) => void;
  signal?: AbortSignal;
}

export interface UploadResult {
  sha256: string;
  /** The host already had the file with this hash: nothing was sent. */
  skipped: boolean;
  /** Bytes sent in this call. */
  bytesSent: number;
  /** Where a previous, interrupted transfer was picked up. */
  resumedFrom: number;
}

/** One host, reached over SSH or (for localhost) directly; the same interface either way. */
export interface HostSession {
  readonly target: HostTarget;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Streams a file into place, resuming an interrupted transfer and verifying sha256 on the host. */
  upload(localPath: string, remotePath: string, options?: UploadOptions): Promise<UploadResult>;
  close(): void;
}

/** Keeps the last `limit` characters of a stream: results carry tails, not whole logs. */
export class TailBuffer {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly limit = 1 << 20) {}
  push(chunk: Buffer | string): void {
    const s = chunk.toString();
    this.chunks.push(s);
    this.size += s.length;
    while (this.size > this.limit && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  toString(): string {
    const all = this.chunks.join('');
    return all.length > this.limit ? all.slice(all.length - this.limit) : all;
  }
}

export function tail(text: string, chars = 2000): string {
  return text.length > chars ? `…${text.slice(text.length - chars)}` : text;
}
