import { createCipheriv, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Small container images written from scratch (no registry, no Docker): tar layers of fixed files, gzip, OCI
 * manifests, configs and indexes, laid out as KubeKey lays out `<binary_dir>/images` or as an OCI image layout.
 * The same content gives the same bytes, so the lab's images and their digests are stable.
 */

export interface ImageSpec {
  /** Full name: `registry.k8s.io/pause:3.9`. */
  name: string;
  /** One platform: a plain manifest; several: an index over them. Each layer is a list of files. */
  platforms: { arch: string; layers: Record<string, Buffer>[] }[];
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A POSIX ustar archive of regular files, owner root, mode 0644, mtime 0. */
export function tarOf(files: Record<string, Buffer>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, data] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** `size` bytes that do not compress, the same on every run (AES-CTR over zeros with a fixed key). */
export function incompressible(size: number, seed = 'kk'): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** Blobs (by digest) and the top manifest of one image. */
export function buildImage(spec: ImageSpec): { blobs: Map<string, Buffer>; top: { digest: string; mediaType: string; bytes: Buffer }; children: Buffer[] } {
  const blobs = new Map<string, Buffer>();
  const put = (b: Buffer) => {
    const d = sha(b);
    blobs.set(d, b);
    return d;
  };
  const manifests = spec.platforms.map((p) => {
    const tars = p.layers.map(tarOf);
    const gz = tars.map((t) => gzipSync(t, { level: 1 }));
    const config = json({ architecture: p.arch, os: 'linux', config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: tars.map(sha) }, history: [] });
    const manifest = json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: gz.map((g) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(g), size: g.length })),
    });
    return { arch: p.arch, manifest };
  });
  if (manifests.length === 1) {
    const bytes = manifests[0]!.manifest;
    return { blobs, top: { digest: sha(bytes), mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes }, children: [] };
  }
  const index = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: manifests.map((m) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(m.manifest), size: m.manifest.length, platform: { architecture: m.arch, os: 'linux' } })),
  });
  return { blobs, top: { digest: sha(index), mediaType: 'application/vnd.oci.image.index.v1+json', bytes: index }, children: manifests.map((m) => m.manifest) };
}

/** Writes the images as KubeKey's layout (default) or as an OCI image layout into `dir` (created; existing files kept). */
export function writeImageLayout(dir: string, specs: ImageSpec[], format: 'kubekey' | 'oci' = 'kubekey'): void {
  const write = (file: string, bytes: Buffer) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (!fs.existsSync(file) || fs.statSync(file).size !== bytes.length) fs.writeFileSync(file, bytes);
  };
  const blobPath = (d: string) => (format === 'oci' ? path.join(dir, 'blobs', 'sha256', d.slice(7)) : path.join(dir, 'blobs', d));
  const index: unknown[] = [];
  for (const spec of specs) {
    const image = buildImage(spec);
    for (const [d, b] of image.blobs) write(blobPath(d), b);
    const colon = spec.name.lastIndexOf(':');
    const [name, tag] = [spec.name.slice(0, colon), spec.name.slice(colon + 1)];
    if (format === 'oci') {
      for (const m of [image.top.bytes, ...image.children]) write(blobPath(sha(m)), m);
      index.push({ mediaType: image.top.mediaType, digest: image.top.digest, size: image.top.bytes.length, annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag } });
      continue;
    }
    const manifests = path.join(dir, name, 'manifests');
    for (const m of [image.top.bytes, ...image.children]) write(path.join(manifests, sha(m)), m);
    const layoutFile = path.join(manifests, 'layout');
    const layout = fs.existsSync(layoutFile) ? (JSON.parse(fs.readFileSync(layoutFile, 'utf8')) as Record<string, string>) : {};
    layout[tag] = image.top.digest;
    fs.writeFileSync(layoutFile, JSON.stringify(layout, null, 2));
  }
  if (format === 'oci') {
    fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index }));
  }
}

const text = (s: string) => Buffer.from(`${s}\n`);

/**
 * The lab's images: a multi-arch `registry.k8s.io/pause` (pushed as `kubernetes/pause`), two images sharing a layer
 * (one in `library`), and one with a padded, incompressible layer of `paddedBytes`, big enough for a push to be
 * interrupted in the middle of it.
 */
export function labImageSpecs(paddedBytes = 64 * 1024 * 1024): ImageSpec[] {
  const base = { 'usr/share/kk/base.txt': text('kk lab base layer') };
  return [
    { name: 'registry.k8s.io/pause:3.9', platforms: ['amd64', 'arm64'].map((arch) => ({ arch, layers: [{ 'etc/kk-image': text(`pause 3.9 linux/${arch}`) }] })) },
    { name: 'docker.io/library/kk-hello:1.0', platforms: [{ arch: 'amd64', layers: [base, { 'etc/kk-image': text('kk-hello 1.0') }] }] },
    { name: 'docker.io/kubesphere/kk-tools:v1', platforms: [{ arch: 'amd64', layers: [base, { 'etc/kk-image': text('kk-tools v1') }] }] },
    { name: 'docker.io/kubesphere/kk-padded:v1', platforms: [{ arch: 'amd64', layers: [{ 'etc/kk-image': text('kk-padded v1') }, { 'var/kk/padding.bin': incompressible(paddedBytes) }] }] },
  ];
}
