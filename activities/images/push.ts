import * as fs from 'node:fs';
import { INDEX_TYPES, MANIFEST_TYPES, type BlobRef, type ImagePlan, type ImagePushResult, type ManifestPlan, type PushTarget } from '../../registry/images/types';
import { blobFile } from '../../registry/images/layout';
import { hostFailure } from '../ssh/errors';
import { RegistryClient } from './client';
import { UploadJournal } from './journal';

/** Blobs go up in chunks of this size: each acknowledged chunk is remembered, so an interrupted upload continues. */
export const CHUNK_BYTES = 16 * 1024 * 1024;

const ACCEPT = [...INDEX_TYPES, ...MANIFEST_TYPES].join(', ');

function uniqueBlobs(m: ManifestPlan): BlobRef[] {
  const seen = new Map<string, BlobRef>();
  const visit = (x: ManifestPlan) => {
    for (const c of x.children ?? []) visit(c);
    for (const b of x.blobs) seen.set(b.digest, b);
  };
  visit(m);
  return [...seen.values()];
}

function manifestCount(m: ManifestPlan): number {
  return 1 + (m.children ?? []).reduce((n, c) => n + manifestCount(c), 0);
}

/** Bytes an image has in all: its distinct blobs and its manifests. */
export function imageBytes(m: ManifestPlan): number {
  const manifests = (x: ManifestPlan): number => x.size + (x.children ?? []).reduce((n, c) => n + manifests(c), 0);
  return uniqueBlobs(m).reduce((n, b) => n + b.size, 0) + manifests(m);
}

/**
 * Pushes one image from the layout: each blob the repository lacks (HEAD first; a blob another repository of this
 * push holds is mounted; an interrupted upload is continued where the registry's session stands), the child
 * manifests of an index by digest, then the manifest by tag, unless the tag already names the same digest.
 */
export async function pushImage(
  target: PushTarget,
  plan: ImagePlan,
  options: { signal?: AbortSignal; attempt: number; onProgress: (done: number, total: number) => void },
): Promise<ImagePushResult> {
  const client = new RegistryClient(target, options.signal);
  const journal = new UploadJournal(target.journalDir);
  const repo = plan.repository;
  const scope = `repository:${repo}:pull,push`;
  const blobs = uniqueBlobs(plan.manifest);
  const result: ImagePushResult = {
    image: plan.source,
    target: `${target.address}/${repo}:${plan.tag}`,
    digest: plan.manifest.digest,
    blobs: { total: blobs.length, sent: 0, skipped: 0, mounted: 0 },
    bytes: { total: imageBytes(plan.manifest), sent: 0 },
    manifests: { sent: 0, skipped: 0 },
    attempt: options.attempt,
  };
  let done = 0;
  const progress = (n: number) => {
    done += n;
    options.onProgress(done, result.bytes.total);
  };

  const uploadBlob = async (blob: BlobRef) => {
    const file = blobFile(plan.imagesDir, blob.digest);
    if (!file) throw hostFailure('InvalidInput', `${plan.source}: blob ${blob.digest} is no longer in the layout`);
    let location: string | undefined;
    let offset = 0;
    const from = plan.mountFrom?.[blob.digest];
    if (from && from !== repo) {
      const r = await client.request('POST', `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`, {
        ok: [201, 202],
        scopes: [scope, `repository:${from}:pull`],
      });
      if (r.status === 201) {
        result.blobs.mounted++;
        progress(blob.size);
        return;
      }
      // Not mountable (not there yet, or not readable): the registry opened an upload session instead.
      location = RegistryClient.pathOf(r.headers.location, `${plan.source}: mount of ${blob.digest}`);
    }
    const kept = location ? undefined : journal.read(target.address, repo, blob.digest);
    if (kept) {
      const r = await client.request('GET', kept.location, { ok: [204, 404, 400], scopes: [scope] });
      const end = /^0-(-?\d+)$/.exec(String(r.headers.range ?? ''))?.[1];
      if (r.status === 204 && end !== undefined) {
        location = RegistryClient.pathOf(r.headers.location ?? kept.location, `${plan.source}: upload of ${blob.digest}`);
        offset = Number(end) + 1;
        if (offset > 0) (result.resumed ??= []).push({ digest: blob.digest, offset });
        progress(offset);
      } else journal.remove(target.address, repo, blob.digest);
    }
    if (!location) {
      const r = await client.request('POST', `/v2/${repo}/blobs/uploads/`, { ok: [202], scopes: [scope] });
      location = RegistryClient.pathOf(r.headers.location, `${plan.source}: upload of ${blob.digest}`);
    }
    journal.write({ address: target.address, repository: repo, digest: blob.digest, location, offset });
    const fd = fs.openSync(file, 'r');
    try {
      while (offset < blob.size) {
        const chunk = Buffer.alloc(Math.min(CHUNK_BYTES, blob.size - offset));
        fs.readSync(fd, chunk, 0, chunk.length, offset);
        const r = await client.request('PATCH', location, {
          ok: [202],
          scopes: [scope],
          body: chunk,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
        });
        location = RegistryClient.pathOf(r.headers.location, `${plan.source}: upload of ${blob.digest}`);
        offset += chunk.length;
        result.bytes.sent += chunk.length;
        progress(chunk.length);
        journal.write({ address: target.address, repository: repo, digest: blob.digest, location, offset });
      }
    } finally {
      fs.closeSync(fd);
    }
    await client.request('PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(blob.digest)}`, { ok: [201], scopes: [scope] });
    journal.remove(target.address, repo, blob.digest);
    result.blobs.sent++;
  };

  const pushManifest = async (m: ManifestPlan, reference: string) => {
    for (const child of m.children ?? []) await pushManifest(child, child.digest);
    for (const blob of m.blobs) {
      if (pushed.has(blob.digest)) continue;
      pushed.add(blob.digest);
      const head = await client.request('HEAD', `/v2/${repo}/blobs/${blob.digest}`, { ok: [200, 404], scopes: [scope] });
      if (head.status === 200) {
        // An upload an earlier attempt left open is not needed any more.
        journal.remove(target.address, repo, blob.digest);
        result.blobs.skipped++;
        progress(blob.size);
        continue;
      }
      await uploadBlob(blob);
    }
    const head = await client.request('HEAD', `/v2/${repo}/manifests/${reference}`, { ok: [200, 404], scopes: [scope], headers: { Accept: ACCEPT } });
    if (head.status === 200 && head.headers['docker-content-digest'] === m.digest) {
      result.manifests.skipped++;
    } else {
      const bytes = fs.readFileSync(m.file);
      await client.request('PUT', `/v2/${repo}/manifests/${reference}`, { ok: [201], scopes: [scope], body: bytes, headers: { 'Content-Type': m.mediaType } });
      result.manifests.sent++;
      result.bytes.sent += bytes.length;
    }
    progress(m.size);
  };

  const pushed = new Set<string>();
  try {
    await client.ping();
    await pushManifest(plan.manifest, plan.tag);
  } finally {
    client.close();
  }
  if (result.manifests.sent + result.manifests.skipped !== manifestCount(plan.manifest)) throw hostFailure('CommandFailed', `${plan.source}: not every manifest was pushed`);
  return result;
}

