import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatReference, parseImageReference, type ImageReference } from './names';
import { INDEX_TYPES, MANIFEST_TYPES, type ManifestPlan } from './types';

/**
 * Reads the images under `<binary_dir>/images`, in either of the layouts found there:
 * - KubeKey's (what `kk artifact images --pull` and an artifact write, pkg/modules/image): blobs shared in
 *   `blobs/sha256:<hex>`, and per image `<registry>/<repository>/manifests/` holding `layout` (tag → digest, KubeKey
 *   v4.0.4+) or one file per tag (earlier v4), and the manifests as `sha256:<hex>`;
 * - an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), each image named by its
 *   `io.containerd.image.name` or a full `org.opencontainers.image.ref.name` annotation.
 */

export interface LocalImage {
  ref: ImageReference;
  /** `registry.k8s.io/pause:3.9` */
  source: string;
  manifest: ManifestPlan;
}

export class LayoutError extends Error {}

const DIGEST = /^sha256:([a-f0-9]{64})$/;

function checkDigest(digest: unknown, where: string): string {
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new LayoutError(`${where}: ${JSON.stringify(digest)} is not a sha256 digest`);
  return digest;
}

/** A blob's file: KubeKey's `blobs/sha256:<hex>` or the OCI layout's `blobs/sha256/<hex>`; undefined when absent. */
export function blobFile(imagesDir: string, digest: string): string | undefined {
  const hex = DIGEST.exec(digest)?.[1];
  if (!hex) return undefined;
  for (const f of [path.join(imagesDir, 'blobs', digest), path.join(imagesDir, 'blobs', 'sha256', hex)]) if (fs.existsSync(f)) return f;
  return undefined;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new LayoutError(`${file}: not readable JSON (${(err as Error).message})`);
  }
}

/**
 * A manifest and what it names, found by digest in `dirs` (then among the blobs); every blob must be present with
 * its size, so a push never starts from an incomplete layout.
 */
function manifestPlan(imagesDir: string, dirs: string[], digest: string, where: string, platform?: string): ManifestPlan {
  const file = [...dirs.map((d) => path.join(d, digest)), blobFile(imagesDir, digest)].find((f): f is string => Boolean(f) && fs.existsSync(f!));
  if (!file) throw new LayoutError(`${where}: manifest ${digest} is missing from the layout`);
  return manifestFromFile(imagesDir, dirs, file, where, digest, platform);
}

function manifestFromFile(imagesDir: string, dirs: string[], file: string, where: string, expected?: string, platform?: string): ManifestPlan {
  const bytes = fs.readFileSync(file);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (expected && digest !== expected) throw new LayoutError(`${where}: ${file} does not match its digest ${expected}`);
  const doc = readJson(file);
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : Array.isArray(doc.manifests) ? INDEX_TYPES[0]! : MANIFEST_TYPES[0]!;
  const plan: ManifestPlan = { digest, mediaType, size: bytes.length, file, blobs: [], ...(platform && { platform }) };
  if (INDEX_TYPES.includes(mediaType)) {
    plan.children = ((doc.manifests as Record<string, unknown>[] | undefined) ?? []).map((m) => {
      const p = m.platform as { os?: string; architecture?: string; variant?: string } | undefined;
      return manifestPlan(imagesDir, dirs, checkDigest(m.digest, where), where, p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : undefined);
    });
    return plan;
  }
  if (!MANIFEST_TYPES.includes(mediaType)) throw new LayoutError(`${where}: ${file}: unsupported media type ${mediaType}`);
  for (const d of [doc.config, ...((doc.layers as unknown[] | undefined) ?? [])] as { digest?: unknown; size?: unknown }[]) {
    const blob = checkDigest(d?.digest, where);
    const f = blobFile(imagesDir, blob);
    if (!f) throw new LayoutError(`${where}: blob ${blob} is missing from ${path.join(imagesDir, 'blobs')}`);
    const size = fs.statSync(f).size;
    if (typeof d.size === 'number' && d.size !== size) throw new LayoutError(`${where}: blob ${blob} has ${size} bytes, the manifest says ${d.size}`);
    plan.blobs.push({ digest: blob, size });
  }
  return plan;
}

function readKubekeyLayout(imagesDir: string): LocalImage[] {
  const images: LocalImage[] = [];
  const walk = (dir: string, rel: string[]) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory() || (rel.length === 0 && entry.name === 'blobs')) continue;
      const sub = path.join(dir, entry.name);
      if (entry.name !== 'manifests' || rel.length < 2) {
        walk(sub, [...rel, entry.name]);
        continue;
      }
      const name = rel.join('/');
      const files = fs.readdirSync(sub).sort();
      const tags: [string, () => ManifestPlan][] = [];
      if (files.includes('layout')) {
        const layout = readJson(path.join(sub, 'layout'));
        for (const [tag, digest] of Object.entries(layout)) tags.push([tag, () => manifestPlan(imagesDir, [sub], checkDigest(digest, `${name}:${tag}`), `${name}:${tag}`)]);
      }
      // KubeKey before v4.0.4: one file per tag, holding the manifest itself.
      for (const f of files.filter((f) => f !== 'layout' && !f.startsWith('sha256:'))) tags.push([f, () => manifestFromFile(imagesDir, [sub], path.join(sub, f), `${name}:${f}`)]);
      for (const [tag, plan] of tags) {
        const ref = parseImageReference(`${name}:${tag}`);
        images.push({ ref, source: formatReference(ref), manifest: plan() });
      }
    }
  };
  walk(imagesDir, []);
  return images;
}

function readOciLayout(imagesDir: string): LocalImage[] {
  const index = readJson(path.join(imagesDir, 'index.json'));
  return ((index.manifests as Record<string, unknown>[] | undefined) ?? []).map((m, i) => {
    const a = (m.annotations ?? {}) as Record<string, string>;
    const name = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name'];
    if (!name || !name.includes('/')) {
      throw new LayoutError(`${path.join(imagesDir, 'index.json')}: manifests[${i}] has no full image name (annotation io.containerd.image.name or org.opencontainers.image.ref.name = registry/repository:tag)`);
    }
    const ref = parseImageReference(name);
    return { ref, source: formatReference(ref), manifest: manifestPlan(imagesDir, [], checkDigest(m.digest, name), name) };
  });
}

/** Every image of the layout under `imagesDir` (none when the directory does not exist). */
export function readImageLayout(imagesDir: string): { format: 'kubekey' | 'oci'; images: LocalImage[] } {
  if (!fs.existsSync(imagesDir)) return { format: 'kubekey', images: [] };
  try {
    if (fs.existsSync(path.join(imagesDir, 'index.json'))) return { format: 'oci', images: readOciLayout(imagesDir) };
    return { format: 'kubekey', images: readKubekeyLayout(imagesDir) };
  } catch (err) {
    if (err instanceof LayoutError) throw err;
    throw new LayoutError(`${imagesDir}: ${(err as Error).message}`);
  }
}
