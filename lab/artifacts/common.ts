import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACHE_DIR, LAB_BINARY_DIR } from '../paths';
import { log, run } from '../process';

export const ARTIFACT_CACHE = path.join(CACHE_DIR, 'artifacts');

export function sha256OfFile(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export function contentKey(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 12);
}

/** Puts a cached artifact at its place in KubeKey's binary_dir layout (hard link when possible), with a .sha256 beside it. */
export function placeArtifact(cached: string, relativePath: string): string {
  const target = path.join(LAB_BINARY_DIR, relativePath);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const sha = sha256OfFile(cached);
  if (!fs.existsSync(target) || sha256OfFile(target) !== sha) {
    fs.rmSync(target, { force: true });
    try {
      fs.linkSync(cached, target);
    } catch {
      fs.copyFileSync(cached, target);
    }
  }
  fs.writeFileSync(`${target}.sha256`, `${sha}  ${path.basename(target)}\n`);
  return target;
}

/** A Debian package's files, from the machine's apt sources (downloaded once into the cache, never installed). */
export async function debianPackage(name: string): Promise<{ dir: string; version: string }> {
  const debs = path.join(CACHE_DIR, 'debs');
  fs.mkdirSync(debs, { recursive: true });
  let deb = fs.readdirSync(debs).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  if (!deb) {
    log(`apt-get download ${name}`);
    await run('apt-get', ['download', name], { cwd: debs }).catch(async () => {
      await run('apt-get', ['update', '-qq']);
      await run('apt-get', ['download', name], { cwd: debs });
    });
    deb = fs.readdirSync(debs).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'))!;
  }
  const file = path.join(debs, deb);
  const dir = `${file}.d`;
  if (!fs.existsSync(dir)) {
    await run('dpkg-deb', ['-x', file, `${dir}.tmp`]);
    fs.renameSync(`${dir}.tmp`, dir);
  }
  const version = (await run('dpkg-deb', ['-f', file, 'Version'])).trim();
  return { dir, version };
}

/** Upstream version from a Debian version: `1:2.2.7-1+b2` -> `2.2.7`, `20.10.24+dfsg1-1` -> `20.10.24`. */
export function upstreamVersion(debianVersion: string): string {
  return debianVersion.replace(/^\d+:/, '').replace(/[+~-].*$/, '');
}

/** Copies a dynamically linked program's shared libraries (as ldd lists them) into an image root. */
export async function copySharedLibraries(binary: string, root: string): Promise<void> {
  const out = await run('ldd', [binary]).catch(() => '');
  for (const m of out.matchAll(/(\/\S+\.so[^\s]*)/g)) {
    const lib = m[1]!;
    const dest = path.join(root, lib);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(lib), dest);
  }
}

/** Writes a directory as a `docker save` image tarball (gzip), via the lab's Docker: import with config, then save. */
export async function imageTarball(
  root: string,
  tag: string,
  changes: string[],
  output: string,
  docker: (args: string[], input?: Buffer) => Promise<string>,
): Promise<void> {
  const tar = `${output}.rootfs.tar`;
  await run('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', tar, '.']);
  await docker(['import', ...changes.flatMap((c) => ['--change', c]), tar, tag]);
  fs.rmSync(tar, { force: true });
  await run('sh', ['-c', `docker save "$1" | gzip -1 > "$2.tmp" && mv "$2.tmp" "$2"`, 'sh', tag, output], { env: (await import('../docker-engine')).dockerEnv() });
}
