import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

const cache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

/** sha256 of a local file, streamed; remembered while the file's size and mtime stay the same. */
export async function sha256File(file: string): Promise<string> {
  const st = fs.statSync(file);
  const hit = cache.get(file);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  cache.set(file, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  return sha256;
}
