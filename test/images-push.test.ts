import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { RegistryClient } from '../activities/images/client';
import { UploadJournal } from '../activities/images/journal';
import { sh } from '../activities/ssh/quote';
import type { LabFile } from '../lab/lab-file';
import { planImages } from '../registry/images/input';
import { readImageLayout } from '../registry/images/layout';
import type { ImagePlan, ManifestPlan, PushImagesReport, PushTarget } from '../registry/images/types';
import { kk, spawnKk, waitFor, workdirClient } from './support/kk';
import { lab, labInventory, labSsh, labUp, onNode } from './support/lab';

/**
 * `kk artifact images --push` on the lab: the lab's image layout (KubeKey's, under binary_dir/images) into Harbor
 * (the lab's stand-in) on all three nodes, kept in sync by kk's replication mesh, the endpoint node1. Projects are
 * created private on every node; the push goes to the endpoint and replication carries it to the others; every node
 * runs Docker and trusts the CA, so every image is pulled on every node. A push killed in the middle of its big blob
 * and resumed sends exactly what the registry lacked; a second push sends nothing. (The docker registry takes the same
 * requests: Harbor's registry is distribution behind Harbor's auth and project rules.)
 */
let labFile: LabFile;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-push-'));
const workdir = path.join(dir, 'work');
let inventory: string;
let plans: ImagePlan[];
let target: PushTarget;
let endpoint: string;

const binaryDir = () => path.join(labFile.workdir, 'kubekey');
const common = () => ['-i', inventory, '--workdir', workdir, '--set', labFile.set.harbor, '--set', `binary_dir=${binaryDir()}`];
const password = () => fs.readFileSync(path.join(workdir, 'secrets', 'image_registry_admin_password'), 'utf8').trim();

/** The manifests of an image, children first, each with the reference it is pushed under. */
function manifestsOf(plan: ImagePlan): { m: ManifestPlan; reference: string }[] {
  const out: { m: ManifestPlan; reference: string }[] = [];
  const visit = (m: ManifestPlan, reference: string) => {
    for (const c of m.children ?? []) visit(c, c.digest);
    out.push({ m, reference });
  };
  visit(plan.manifest, plan.tag);
  return out;
}

/** Bytes of an image that the registry lacks now (its distinct blobs and manifests), asked over the registry's API. */
async function missingBytes(plan: ImagePlan): Promise<number> {
  const client = new RegistryClient(target);
  try {
    let missing = 0;
    const seen = new Set<string>();
    for (const { m, reference } of manifestsOf(plan)) {
      for (const b of m.blobs) {
        if (seen.has(b.digest)) continue;
        seen.add(b.digest);
        const has = async (repo: string) => (await client.request('HEAD', `/v2/${repo}/blobs/${b.digest}`, { ok: [200, 404] })).status === 200;
        const holder = plan.mountFrom?.[b.digest];
        // A blob another repository holds is mounted, not sent.
        if (!(await has(plan.repository)) && !(holder && (await has(holder)))) missing += b.size;
      }
      const r = await client.request('HEAD', `/v2/${plan.repository}/manifests/${reference}`, {
        ok: [200, 404],
        headers: { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' },
      });
      if (r.status === 404 || r.headers['docker-content-digest'] !== m.digest) missing += m.size;
    }
    return missing;
  } finally {
    client.close();
  }
}

/**
 * The run's history once no workflow task is left in flight. While the killed worker held a workflow task, the
 * server keeps the activities that complete meanwhile out of the history (buffered events), and writes them only when
 * that task times out: read before that, an image pushed in full before the kill looks unfinished.
 */
async function settledHistory(client: Client, id: string) {
  return waitFor('the killed worker\'s workflow task to time out', async () => {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const tasks = (history.events ?? []).filter(
      (e) => e.workflowTaskStartedEventAttributes || e.workflowTaskCompletedEventAttributes || e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes,
    );
    return tasks.at(-1)?.workflowTaskStartedEventAttributes ? undefined : history;
  }, 60_000);
}

/**
 * Images whose push activity completed (as the run's settled history says: an activity may complete just before the
 * kill, with no workflow task left to record it in the memo).
 */
async function finishedImages(client: Client, id: string): Promise<Set<string>> {
  const history = await settledHistory(client, id);
  const scheduled = new Map<string, string>();
  const done = new Set<string>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === 'pushImage' && s.input?.payloads) {
      const [, plan] = (await decodeArrayFromPayloads(client.options.loadedDataConverter, s.input.payloads)) as [unknown, ImagePlan];
      scheduled.set(String(e.eventId), plan.source);
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c && scheduled.has(String(c.scheduledEventId))) done.add(scheduled.get(String(c.scheduledEventId))!);
  }
  return done;
}

before(async () => {
  labFile = await labUp(3);
  // Fresh hosts, the three at once (each reset recreates a node's container).
  const resets = await Promise.all(labFile.nodes.map((n) => lab(['reset', n.name])));
  for (const r of resets) assert.equal(r.code, 0, r.stderr);
  inventory = labInventory(labFile, dir, 'push', ['node1', 'node2', 'node3'], { groups: { kube_control_plane: { hosts: ['node1'] } } });
  const r = await kk(['init', 'registry', ...common()]);
  assert.equal(r.code, 0, `kk init registry failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  endpoint = labFile.nodes[0]!.address;
  const imagesDir = path.join(binaryDir(), 'images');
  plans = planImages(readImageLayout(imagesDir).images, imagesDir, undefined);
  target = {
    address: endpoint,
    scheme: 'https',
    connectHost: endpoint,
    port: 443,
    servername: endpoint,
    caCert: fs.readFileSync(path.join(workdir, 'pki', 'root.crt'), 'utf8'),
    credentials: { username: 'admin', password: password() },
    journalDir: path.join(dir, 'unused'),
  };
});

after(async () => {
  await kk(['server', 'stop', '--workdir', workdir]);
});

describe('kk artifact images --push (Harbor on three nodes)', () => {
  it('refuses an image_manifests entry that is not in the layout (exit 2, nothing started)', async () => {
    const r = await kk(['artifact', 'images', '--push', ...common(), '--set', 'image_manifests=["docker.io/library/nginx:1.25"]']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error: image_manifests: docker\.io\/library\/nginx:1\.25 .* is not in /);
    const runs = await kk(['runs', '--workdir', workdir]);
    assert.doesNotMatch(runs.stdout, /artifact-images/);
  });

  it('a push killed in the middle of a big blob, resumed, sends exactly what the registry lacked; every node pulls every image', async () => {
    const padded = plans.find((p) => p.repository === 'kubesphere/kk-padded')!;
    const big = padded.manifest.blobs.reduce((a, b) => (b.size > a.size ? b : a));
    const journal = new UploadJournal(path.join(workdir, 'uploads'));
    const run = spawnKk(['artifact', 'images', '--push', ...common()]);
    // Killed while the big blob is on its way: its upload is remembered past a chunk and short of half of it, so at
    // least one more chunk is still to go.
    const entry = await waitFor(
      'the big blob half-way up',
      async () => journal.entries().find((e) => e.digest === big.digest && e.offset > 0 && e.offset <= big.size / 2),
      120_000,
    ).catch((err: Error) => assert.fail(`${err.message}\n${run.stderr()}`));
    run.child.kill('SIGKILL');
    await run.done;
    const id = /run (kk-artifact-images-\S+)/.exec(run.stderr())?.[1];
    assert.ok(id, run.stderr());

    // What the registry holds at this moment, image by image, and which images the run had finished.
    const client = await workdirClient(workdir);
    const finished = await finishedImages(client, id);
    await client.connection.close();
    assert.ok(!finished.has(padded.source), 'the padded image was not finished at the kill');
    const missing = Object.fromEntries(await Promise.all(plans.map(async (p) => [p.source, await missingBytes(p)] as const)));
    assert.ok(missing[padded.source]! >= big.size, `the cut blob is missing (${missing[padded.source]} < ${big.size})`);
    assert.ok(missing[padded.source]! < padded.manifest.blobs.reduce((n, b) => n + b.size, 0) + padded.manifest.size, 'part of the padded image was in the registry before the kill');

    const r = await kk(['resume', id, '--workdir', workdir, '--output', 'json']);
    assert.equal(r.code, 0, `kk resume failed:\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as PushImagesReport;
    assert.equal(report.images.length, plans.length);
    for (const image of report.images) {
      if (finished.has(image.image)) continue;
      // Sent after the kill: exactly the blobs and manifests the registry lacked, less what an upload session it kept
      // already held (continued at its offset).
      const kept = (image.resumed ?? []).reduce((n, r) => n + r.offset, 0);
      assert.equal(image.bytes.sent, missing[image.image]! - kept, `${image.image}: sent ${image.bytes.sent} bytes after the kill, the registry lacked ${missing[image.image]}, ${kept} of them in an open upload`);
    }
    const resumed = report.images.find((i) => i.image === padded.source)!;
    assert.ok(resumed.attempt > 1, 'the padded image was retried after the kill');
    assert.ok(resumed.blobs.skipped >= 1, 'blobs of the padded image that were up before the kill were not sent again');
    assert.ok(entry.offset > 0);
    assert.deepEqual(new UploadJournal(path.join(workdir, 'uploads')).entries(), [], 'no upload left open');
    // Harbor: the projects on every node, private; replication carried every image to every node's own Harbor.
    for (const n of labFile.nodes) assert.ok(report.projects?.[n.name]?.some((p) => /^kubernetes (created|present)$/.test(p)), JSON.stringify(report.projects));
    assert.deepEqual(report.replicatedTo, ['node1', 'node2', 'node3']);

    // Every image on every node, by the names KubeKey gives them (registry.k8s.io/pause → kubernetes/pause).
    const names = report.images.map((i) => i.target).sort();
    assert.ok(names.includes(`${endpoint}/kubernetes/pause:3.9`), names.join(', '));
    // Private, as each node's Harbor says (its API through curl on the node, the credential on curl's stdin).
    for (const n of labFile.nodes) {
      const out = await onNode(labFile, n.name, 'curl -sS -K -', `url = "https://127.0.0.1/api/v2.0/projects/kubernetes"\ncacert = "/etc/docker/certs.d/${endpoint}/ca.crt"\nuser = "admin:${password()}"\n`);
      assert.equal((JSON.parse(out) as { metadata?: { public?: string } }).metadata?.public, 'false', `${n.name}: ${out}`);
    }
    await Promise.all(
      labFile.nodes.map(async (n) => {
        const conn = await labSsh(n);
        try {
          const login = await conn.exec(sh`docker login -u admin --password-stdin ${endpoint}`, { sudo: true, stdin: password(), timeoutMs: 60_000 });
          assert.equal(login.code, 0, login.stderr);
        } finally {
          conn.close();
        }
        const out = await onNode(labFile, n.name, names.map((name) => sh`docker pull -q ${name} >/dev/null && docker image inspect --format '{{.Id}}' ${name} && docker rmi ${name} >/dev/null`).join(' && '));
        assert.equal(out.trim().split('\n').length, names.length, `${n.name}: ${out}`);
      }),
    );
  });

  it('a second push sends no blob and no manifest', async () => {
    const r = await kk(['artifact', 'images', '--push', ...common(), '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PushImagesReport;
    assert.equal(report.images.length, plans.length);
    for (const i of report.images) {
      assert.equal(i.blobs.sent + i.blobs.mounted, 0, `${i.image}: ${JSON.stringify(i.blobs)}`);
      assert.equal(i.bytes.sent, 0, i.image);
      assert.equal(i.manifests.sent, 0, i.image);
      assert.equal(i.blobs.skipped, i.blobs.total, i.image);
    }
  });
});
