import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostFailure } from '../ssh/errors';
import { sha256File } from '../ssh/file-hash';

export interface DownloadResult {
  sha256: string;
  /** The file was already there with the expected hash. */
  skipped: boolean;
  bytesFetched: number;
  resumedFrom: number;
}

/**
 * The hash published beside a URL (`<url>.sha256`, as `sha256sum` writes it). Only a 404 (or 410) means "no hash
 * published"; a network error or any other status is a retryable failure, since treating it as "no hash" would
 * silently skip the check.
 */
async function publishedSha256(url: string, signal?: AbortSignal): Promise<string | undefined> {
  const res = await fetch(`${url}.sha256`, { signal }).catch((err: Error) => {
    throw hostFailure('SshUnreachable', `cannot fetch ${url}.sha256 (${err.message}); it is tried again`);
  });
  if (res.status === 404 || res.status === 410) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw hostFailure('SshUnreachable', `cannot fetch ${url}.sha256: HTTP ${res.status}; it is tried again`);
  }
  return /^([0-9a-f]{64})\b/i.exec((await res.text()).trim())?.[1]?.toLowerCase();
}

/**
 * Downloads an artifact into binary_dir: into `<file>.part`, resuming with an HTTP Range request after an interrupted
 * transfer; checked against `<url>.sha256` when the server publishes one; moved into place only once complete, with a
 * `.sha256` written beside it (which later precheck and install runs verify).
 */
export async function downloadArtifact(url: string, localPath: string, options: { onProgress?: (offset: number, total: number) => void; signal?: AbortSignal } = {}): Promise<DownloadResult> {
  const expected = await publishedSha256(url, options.signal);
  if (fs.existsSync(localPath)) {
    const sidecar = fs.existsSync(`${localPath}.sha256`) ? fs.readFileSync(`${localPath}.sha256`, 'utf8').split(/\s+/)[0] : undefined;
    const actual = await sha256File(localPath);
    if ((expected ?? sidecar ?? actual) === actual) return { sha256: actual, skipped: true, bytesFetched: 0, resumedFrom: 0 };
  }
  fs.mkdirSync(path.dirname(localPath), { recursive: true });
  const part = `${localPath}.part`;
  let offset = fs.existsSync(part) ? fs.statSync(part).size : 0;
  let res = await get(url, offset, options.signal);
  if (res.status === 416) {
    await res.body?.cancel();
    // The server has nothing past our offset: when its size is exactly what we hold, the part is complete (a
    // previous attempt stopped between the last byte and the rename); otherwise the part is not a prefix of this file.
    const size = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
    if (size !== undefined && Number(size) === offset) return finish(url, part, localPath, expected, 0, offset);
    fs.rmSync(part, { force: true });
    offset = 0;
    res = await get(url, 0, options.signal);
  }
  if (!res.ok && res.status !== 206) {
    const type = res.status === 404 || res.status === 403 ? 'InvalidInput' : 'SshUnreachable';
    throw hostFailure(type, `download of ${url} failed: HTTP ${res.status}`);
  }
  // A server that ignores Range sends the whole file again.
  if (res.status !== 206) offset = 0;
  const resumedFrom = offset;
  const total = resumedFrom + Number(res.headers.get('content-length') ?? 0);
  const out = fs.createWriteStream(part, { flags: offset ? 'a' : 'w' });
  let fetched = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      fetched += chunk.length;
      options.onProgress?.(offset + fetched, total);
    }
  } catch (err) {
    await new Promise<void>((r) => out.end(() => r()));
    throw hostFailure('SshConnectionLost', `download of ${url} interrupted at ${offset + fetched} bytes (${(err as Error).message}); it resumes from there`);
  }
  await new Promise<void>((r) => out.end(() => r()));
  return finish(url, part, localPath, expected, fetched, resumedFrom);
}

function get(url: string, offset: number, signal?: AbortSignal): Promise<Response> {
  return fetch(url, { headers: offset ? { range: `bytes=${offset}-` } : {}, signal }).catch((err: Error) => {
    throw hostFailure('SshUnreachable', `download of ${url} failed: ${err.message}`);
  });
}

/** Checks a complete `.part` against the published hash, then moves it into place with its `.sha256` beside it. */
async function finish(url: string, part: string, localPath: string, expected: string | undefined, fetched: number, resumedFrom: number): Promise<DownloadResult> {
  const actual = await hashOf(part);
  if (expected && expected !== actual) {
    fs.rmSync(part, { force: true });
    throw hostFailure('UploadCorrupt', `download of ${url} has sha256 ${actual}, ${url}.sha256 says ${expected}; it will be fetched again`);
  }
  fs.renameSync(part, localPath);
  fs.writeFileSync(`${localPath}.sha256`, `${actual}  ${path.basename(localPath)}\n`);
  return { sha256: actual, skipped: false, bytesFetched: fetched, resumedFrom };
}

async function hashOf(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
