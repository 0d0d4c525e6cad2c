import * as fs from 'node:fs';
import * as path from 'node:path';
import { contentKey, sha256OfFile } from '../lab/artifacts/common';
import { CACHE_DIR, LAB_BINARY_DIR } from '../lab/paths';
import { run } from '../lab/process';

/** Sizes of the real artifacts the lab's stand in for: Harbor's offline installer and Docker's static tarball. */
export const REAL_SIZES = { harbor: 600e6, docker: 70e6 };

/** The bench's own binary_dir: every lab artifact hard-linked, the ones smaller than the real thing padded. */
export const BENCH_CACHE = path.join(CACHE_DIR, 'bench');

/**
 * A copy of the lab's binary_dir where the Harbor installer and the Docker tarball are padded to `sizes` with a file of
 * random bytes inside the tarball (so an install really uploads, decompresses and extracts that much). The lab's own
 * artifacts are never modified; the padded copies are cached by the source's content and the target size.
 */
export async function benchBinaryDir(sizes: { harbor: number; docker: number }): Promise<{ dir: string; padded: Record<string, { from: number; to: number }> }> {
  const dir = path.join(BENCH_CACHE, `kubekey-${contentKey([sizes])}`);
  const padded: Record<string, { from: number; to: number }> = {};
  for (const rel of listFiles(LAB_BINARY_DIR)) {
    if (rel.endsWith('.sha256')) continue;
    const src = path.join(LAB_BINARY_DIR, rel);
    const dst = path.join(dir, rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    const kind = /harbor-offline-installer-.*\.tgz$/.test(rel) ? 'harbor' : /^docker\/.*\/docker-[^/]+\.tgz$/.test(rel) ? 'docker' : undefined;
    const target = kind ? sizes[kind] : 0;
    const from = fs.statSync(src).size;
    if (kind && from < target) {
      // Docker's binaries are extracted from docker/ into /usr/local/bin: its padding sits outside that directory.
      const inner = kind === 'harbor' ? 'harbor/bench-padding.bin' : 'bench-padding/padding.bin';
      const cached = path.join(BENCH_CACHE, `${path.basename(rel, '.tgz')}-${contentKey([sha256OfFile(src), target])}.tgz`);
      if (!fs.existsSync(cached)) await padTarball(src, cached, inner, target - from);
      linkOrCopy(cached, dst);
      padded[rel] = { from, to: fs.statSync(dst).size };
    } else linkOrCopy(src, dst);
    fs.writeFileSync(`${dst}.sha256`, `${sha256OfFile(dst)}  ${path.basename(dst)}\n`);
  }
  return { dir, padded };
}

/** Re-packs a .tgz with a file of `bytes` random bytes first in it (random: gzip cannot shrink it). */
export async function padTarball(src: string, dst: string, inner: string, bytes: number): Promise<void> {
  process.stderr.write(`bench: padding ${path.basename(src)} by ${(bytes / 1e6).toFixed(0)} MB\n`);
  const work = `${dst}.d`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, path.dirname(inner)), { recursive: true });
  await run('tar', ['-C', work, '-xzf', src]);
  await run('sh', ['-c', 'head -c "$1" /dev/urandom > "$2"', 'sh', String(bytes), path.join(work, inner)]);
  const members = [inner, ...fs.readdirSync(work).flatMap((top) => listFiles(path.join(work, top)).map((f) => `${top}/${f}`)).filter((f) => f !== inner)];
  await run('sh', ['-c', 'cd "$1" && shift 2 && tar --owner=0 --group=0 --numeric-owner --no-recursion -cf - "$@" | gzip -1 > "$0"', `${dst}.tmp`, work, 'x', ...withDirs(members)]);
  fs.renameSync(`${dst}.tmp`, dst);
  fs.rmSync(work, { recursive: true, force: true });
}

/** Every member's parent directories first, so the archive extracts like the original. */
function withDirs(files: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!seen.has(d)) (seen.add(d), out.push(d));
    }
    out.push(f);
  }
  return out;
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

function linkOrCopy(src: string, dst: string): void {
  if (fs.existsSync(dst) && fs.statSync(dst).ino === fs.statSync(src).ino) return;
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}
