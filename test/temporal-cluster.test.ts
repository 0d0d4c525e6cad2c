import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { isChildWorkflowId } from '../cli/run-id';
import type { LabFile } from '../lab/lab-file';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../lab/temporal/build';
import { killTemporalServer, startTemporalServer, type LabTemporal } from '../lab/temporal/cluster';
import type { InitRegistryReport } from '../registry/types';
import { kk, spawnKk, waitFor, type KkResult } from './support/kk';
import { labInventory, labVersion, resetNodes } from './support/lab';
import { activityWorkers, clusterClient, clusterEnv, labWithTemporal, startWorker, uiListWorkflows, type RunningWorker } from './support/temporal-cluster';

/**
 * kk on a real Temporal cluster (the lab's: PostgreSQL, server, UI with kk's codec endpoint), as a user runs it:
 * TEMPORAL_ADDRESS, the shared codec key, and two `kk worker` processes on work dirs of their own. The whole HA
 * `kk init registry` (docker-registry on three nodes, the VIP, S3 storage) goes through it while one worker is
 * killed and the server process is restarted; the UI lists the run by a search attribute; `kk status` and `kk runs`
 * read it with no worker running.
 */
let labFile: LabFile & { temporal: LabTemporal };
let t: LabTemporal;
let client: Client;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-cluster-'));
const cliWorkdir = path.join(dir, 'cli');
const workers: RunningWorker[] = [];
let runId: string;
let install: KkResult;
let installSeconds: number;

const killWorker = async (w: RunningWorker, signal: NodeJS.Signals) => {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(signal);
  await w.exited;
};

// 20 minutes: on a fresh machine the before hook builds the server and the UI from their Go modules (about 6 min).
describe('kk on a real Temporal cluster', { timeout: 20 * 60_000 }, () => {
  before(async () => {
    labFile = await labWithTemporal();
    t = labFile.temporal;
    await resetNodes(labFile);
    client = await clusterClient(t);
  });

  after(async () => {
    for (const w of workers) await killWorker(w, 'SIGTERM');
    await startTemporalServer().catch(() => undefined);
    await client?.connection.close();
  });

  it('init registry (HA) through the cluster with two workers: both take activities, one is killed, the server restarts, the install finishes', async () => {
    workers.push(await startWorker(t, path.join(dir, 'worker1')), await startWorker(t, path.join(dir, 'worker2')));
    const [w1, w2] = workers as [RunningWorker, RunningWorker];
    const s = labFile.s3!;
    const inventory = labInventory(labFile, dir, 'cluster', ['node1', 'node2', 'node3'], { groups: { kube_control_plane: { hosts: ['node1'] } } });
    const started = Date.now();
    const run = spawnKk(
      [
        'init', 'registry', '-i', inventory, '--workdir', cliWorkdir, '--output', 'json',
        '--set', labFile.set['docker-registry'],
        '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`,
        '--set', `image_registry.ha_vip=${labFile.vip}`,
        '--set', `image_registry.docker_registry.storage.s3=${JSON.stringify({ accesskey: s.accesskey, secretkey: s.secretkey, region: s.region, bucket: s.bucket, regionendpoint: s.endpoint })}`,
      ],
      clusterEnv(t),
    );
    const stillRunning = () => run.child.exitCode === null;

    runId = await waitFor('the run to start on the cluster', async () => {
      for await (const e of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) if (e.workflowId.startsWith('kk-init-registry-') && !isChildWorkflowId(e.workflowId)) return e.workflowId;
      return undefined;
    });
    // Both workers poll the one task queue: activities go to both.
    const early = await waitFor('activities on both workers', async () => {
      const c = await activityWorkers(client, runId);
      return (c.get(w1.identity) ?? 0) > 0 && (c.get(w2.identity) ?? 0) > 0 && c;
    }, 120_000);
    assert.ok(stillRunning(), `the install was still under way when both workers had taken activities: ${run.stderr()}`);

    // One worker dies mid-install (no shutdown): what it held times out on its heartbeat and moves to the other.
    await killWorker(w1, 'SIGKILL');
    // The server process crashes and comes back: the run's state is in PostgreSQL.
    assert.ok(stillRunning(), 'the install was still under way when the worker was killed');
    await killTemporalServer();
    await new Promise((r) => setTimeout(r, 2000));
    await startTemporalServer();
    assert.ok(stillRunning(), 'the install was still under way when the server restarted');

    install = await run.done;
    installSeconds = (Date.now() - started) / 1000;
    assert.equal(install.code, 0, `kk init registry failed on the cluster:\n${install.stderr}\n${install.stdout.slice(-3000)}`);
    const report = JSON.parse(install.stdout) as InitRegistryReport;
    assert.equal(report.endpoint, labFile.vip);
    assert.deepEqual(report.nodes.map((n) => n.host).sort(), ['node1', 'node2', 'node3']);
    assert.ok(report.ha?.vipHolder, 'a node holds the VIP');
    assert.ok(report.verification.pulledOn.length >= 1, 'kk pushed and pulled through the VIP');

    const counts = await activityWorkers(client, runId);
    assert.ok((counts.get(w1.identity) ?? 0) >= (early.get(w1.identity) ?? 0) && (counts.get(w1.identity) ?? 0) > 0, 'the killed worker ran some');
    assert.ok((counts.get(w2.identity) ?? 0) > (early.get(w2.identity) ?? 0), 'the surviving worker took the rest');
    assert.deepEqual([...counts.keys()].filter((k) => k !== w1.identity && k !== w2.identity), [], 'no other worker ran anything');
    process.stderr.write(`cluster install: ${installSeconds.toFixed(1)} s; activities by worker: ${[...counts].map(([k, v]) => `${k}=${v}`).join(', ')}\n`);
  });

  it("the UI lists the run by a search attribute, and its codec endpoint shows the input with the password masked", async () => {
    assert.ok(runId, 'the install ran');
    const listed = await waitFor('the UI to list the run', async () => {
      const rows = await uiListWorkflows(t, `KkHosts = "node2" AND KkRegistryType = "docker-registry"`);
      return rows.find((r) => r.workflowId === runId);
    });
    assert.match(listed.status, /COMPLETED/);
    assert.equal((await uiListWorkflows(t, `KkHosts = "node9"`)).length, 0, 'the filter filters');

    const settings = (await (await fetch(`${t.ui}/api/v1/settings`)).json()) as { Codec?: { Endpoint?: string } };
    assert.equal(settings.Codec?.Endpoint, t.codec, "the UI's codec endpoint is kk's");
    const history = await client.workflow.getHandle(runId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    assert.ok(input, 'the run has an input');
    const toJson = (p: typeof input) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(p.data ?? []).toString('base64'),
    });
    const res = await fetch(`${t.codec}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: t.ui }, body: JSON.stringify({ payloads: [toJson(input)] }) });
    assert.equal(res.status, 200);
    const decoded = Buffer.from(((await res.json()) as { payloads: { data: string }[] }).payloads[0]!.data, 'base64').toString();
    const password = fs.readFileSync(path.join(cliWorkdir, 'secrets', 'image_registry_admin_password'), 'utf8').trim();
    assert.match(decoded, /node1/, 'readable through the codec');
    assert.ok(!decoded.includes(password), 'the registry password is masked');
    assert.ok(!Buffer.from(input.data ?? []).toString().includes('node1'), 'the server holds ciphertext only');
    const other = await fetch(`${t.codec}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: JSON.stringify({ payloads: [toJson(input)] }) });
    assert.equal(other.status, 403, 'another origin gets nothing');
    const bad = await kk(['server', 'codec', '--ui-origin', 'http://127.0.0.1:8080/path'], clusterEnv(t));
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--ui-origin: "http:\/\/127\.0\.0\.1:8080\/path" is not an origin/);
  });

  it('kk status and kk runs read the run from the cluster with no worker running', async () => {
    assert.ok(runId, 'the install ran');
    for (const w of workers) await killWorker(w, 'SIGTERM');
    const status = await kk(['status', runId, '--workdir', cliWorkdir, '--output', 'json'], clusterEnv(t));
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { run: string; status: string; hosts: { host: string }[] };
    assert.equal(s.run, runId);
    assert.equal(s.status, 'completed');
    assert.deepEqual(s.hosts.map((h) => h.host).sort(), ['node1', 'node2', 'node3']);
    const runs = await kk(['runs', '--workdir', cliWorkdir, '--output', 'json'], clusterEnv(t));
    assert.equal(runs.code, 0, runs.stderr);
    const row = (JSON.parse(runs.stdout) as { run: string; status: string; hosts: string[]; registryType: string | null }[]).find((r) => r.run === runId);
    assert.ok(row, `kk runs lists ${runId}`);
    assert.equal(row.status, 'completed');
    assert.equal(row.registryType, 'docker-registry');
  });

  it('docker-compose.yml runs the versions and the configuration the lab runs', async () => {
    const dir = path.join(labFile.workdir, 'kubekey', 'image-registry', 'docker-compose', labVersion(labFile, 'dockercompose_version'), 'amd64');
    const compose = path.join(dir, fs.readdirSync(dir).find((f) => !f.endsWith('.sha256'))!);
    const env = { PATH: process.env.PATH, POSTGRES_PASSWORD: 'x', KK_CODEC_KEY: 'y' };
    const { stdout } = await promisify(execFile)(compose, ['-f', path.resolve(__dirname, '..', 'docker-compose.yml'), 'config'], { env });
    const services = (parse(stdout) as { services: Record<string, { image?: string; environment?: Record<string, string> }> }).services;
    assert.equal(services.temporal?.image, `temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    assert.equal(services['temporal-schema']?.image, `temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`);
    assert.equal(services['temporal-ui']?.image, `temporalio/ui:${TEMPORAL_UI_VERSION}`);
    assert.equal(services.postgresql?.image, `postgres:${t.versions.postgresql.split('.')[0]}`);
    assert.equal(services.temporal?.environment?.DB, 'postgres12');
    assert.equal(services.temporal?.environment?.VISIBILITY_DBNAME, 'temporal_visibility');
    assert.ok(services['temporal-ui']?.environment?.TEMPORAL_CODEC_ENDPOINT, "the UI is pointed at kk's codec endpoint");
  });
});
