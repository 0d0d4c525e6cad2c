import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { RegistryClient } from '../activities/images/client';
import { UploadJournal } from '../activities/images/journal';
import { CHUNK_BYTES, pushImage } from '../activities/images/push';
import { labImageSpecs, writeImageLayout } from '../lab/artifacts/image-layout';
import { planImages } from '../registry/images/input';
import { readImageLayout } from '../registry/images/layout';
import type { ImagePlan, PushTarget } from '../registry/images/types';
import { request, startStandins, type StandinLab } from './support/harbor-standin';

/**
 * The push of one image (the activity's work, without Temporal) into the lab's Harbor stand-in on loopback: a real
 * distribution registry behind Harbor's project rules and Basic auth, TLS verified with kk's CA.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-push-standin-'));
const PASSWORD = 'Standin-Push-1';
let lab: StandinLab;
let target: PushTarget;
let plans: ImagePlan[];
const push = (plan: ImagePlan, t: PushTarget = target) => pushImage(t, plan, { attempt: 1, onProgress: () => undefined });
const plan = (repo: string) => plans.find((p) => p.repository === repo)!;

before(async () => {
  lab = await startStandins(dir, ['a'], { password: PASSWORD });
  const site = lab.sites[0]!;
  const imagesDir = path.join(dir, 'images');
  // The padded layer spans three chunks and a bit.
  writeImageLayout(imagesDir, labImageSpecs(3 * CHUNK_BYTES + 1000));
  plans = planImages(readImageLayout(imagesDir).images, imagesDir, undefined);
  target = {
    address: `127.0.0.1:${site.httpsPort}`,
    scheme: 'https',
    connectHost: '127.0.0.1',
    port: site.httpsPort,
    servername: '127.0.0.1',
    caCert: lab.ca,
    credentials: { username: 'admin', password: PASSWORD },
    journalDir: path.join(dir, 'uploads'),
  };
});

after(() => lab.stop());

const project = async (name: string) => {
  const r = await request(lab.agent, `${lab.sites[0]!.api}/api/v2.0/projects`, { method: 'POST', body: { project_name: name }, user: 'admin', password: PASSWORD });
  // Harbor comes with `library`.
  assert.ok(r.status === 201 || (name === 'library' && r.status === 409), r.text);
};

describe('image push into Harbor (stand-in)', () => {
  it('a project that does not exist, and a wrong password, are failures no retry changes', async () => {
    await assert.rejects(push(plan('kubernetes/pause')), (err: ApplicationFailure) => err.nonRetryable && err.type === 'CommandFailed' && /NAME_UNKNOWN/.test(err.message));
    await project('kubernetes');
    await assert.rejects(push(plan('kubernetes/pause'), { ...target, credentials: { username: 'admin', password: 'wrong' } }), (err: ApplicationFailure) => err.nonRetryable && err.type === 'PermissionDenied');
  });

  it('pushes every image (the index with both platforms), mounting the shared layer; Harbor lists them', async () => {
    await project('library');
    await project('kubesphere');
    const results = [];
    for (const p of plans.filter((p) => p.repository !== 'kubesphere/kk-padded')) results.push(await push(p));
    const pause = results.find((r) => r.image === 'registry.k8s.io/pause:3.9')!;
    assert.equal(pause.manifests.sent, 3, 'the index and its two platform manifests');
    assert.equal(pause.target, `${target.address}/kubernetes/pause:3.9`);
    assert.equal(results.reduce((n, r) => n + r.blobs.mounted, 0), 1, 'the layer kk-hello and kk-tools share is mounted, not sent twice');
    for (const [repo, tag] of [['kubernetes/pause', '3.9'], ['library/kk-hello', '1.0'], ['kubesphere/kk-tools', 'v1']] as const) {
      const [p, ...r] = repo.split('/');
      const res = await request(lab.agent, `${lab.sites[0]!.api}/api/v2.0/projects/${p}/repositories/${encodeURIComponent(r.join('/'))}/artifacts/${tag}`, { user: 'admin', password: PASSWORD });
      assert.equal(res.status, 200, `${repo}:${tag}: ${res.text}`);
    }
  });

  it('an upload interrupted after a chunk the registry acknowledged continues at its offset', async () => {
    const padded = plan('kubesphere/kk-padded');
    const big = padded.manifest.blobs.reduce((a, b) => (b.size > a.size ? b : a));
    const client = new RegistryClient(target);
    const start = await client.request('POST', `/v2/${padded.repository}/blobs/uploads/`, { ok: [202] });
    const first = Buffer.alloc(CHUNK_BYTES);
    const fd = fs.openSync(path.join(padded.imagesDir, 'blobs', big.digest), 'r');
    fs.readSync(fd, first, 0, CHUNK_BYTES, 0);
    fs.closeSync(fd);
    const patched = await client.request('PATCH', RegistryClient.pathOf(start.headers.location, 'test'), {
      ok: [202],
      body: first,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${CHUNK_BYTES - 1}` },
    });
    client.close();
    const journal = new UploadJournal(target.journalDir);
    journal.write({ address: target.address, repository: padded.repository, digest: big.digest, location: RegistryClient.pathOf(patched.headers.location, 'test'), offset: CHUNK_BYTES });

    const r = await push(padded);
    assert.deepEqual(r.resumed, [{ digest: big.digest, offset: CHUNK_BYTES }]);
    const others = padded.manifest.blobs.filter((b) => b.digest !== big.digest).reduce((n, b) => n + b.size, 0);
    assert.equal(r.bytes.sent, big.size - CHUNK_BYTES + others + padded.manifest.size, 'only the rest of the blob went up');
    assert.deepEqual(journal.entries(), []);
  });

  it('a second push sends nothing', async () => {
    for (const p of plans) {
      const r = await push(p);
      assert.equal(r.bytes.sent, 0, p.source);
      assert.equal(r.blobs.skipped, r.blobs.total, p.source);
      assert.equal(r.manifests.sent, 0, p.source);
    }
  });
});
