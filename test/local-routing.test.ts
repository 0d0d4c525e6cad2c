import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { HostTarget } from '../config/hosts';
import { clusterTaskQueue, TASK_QUEUE } from '../runtime/data-converter';
import { createKkWorker, runWorker } from '../worker/worker';
import type { FactsReport } from '../workflows/facts';
import { localHostOfQueue, localHostsOfArgs, localTaskQueue } from '../workflows/local-queue';
import { kk, spawnKk, waitFor } from './support/kk';
import { startSshd, type TestSshd } from './support/sshd';
import { localTemporal } from './support/temporal';

/**
 * Issue #8 item 14: a `local` host is the machine of the worker started for it, so each of its steps goes to its own
 * queue, which only such workers poll; other hosts' steps go to any worker. Two workers on one cluster-style queue
 * (`kk-registry@<build>`), only one started with --local-host me, on a real Temporal server and a real sshd.
 */
let env: TestWorkflowEnvironment;
let sshd: TestSshd;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-lr-'));
const codecKey = Buffer.alloc(32, 5);
const queue = clusterTaskQueue();
// As config/load.ts makes it: a local host carries its inventory's name, which qualifies its queue.
const me: HostTarget = { name: 'me', local: true, address: '127.0.0.1', port: 22, user: 'root', inventory: 'lr' };
let remote: HostTarget;

before(async () => {
  sshd = await startSshd();
  remote = { name: 'remote', local: false, address: '127.0.0.1', port: sshd.port, user: 'root', privateKey: sshd.clientKey };
  env = await localTemporal(codecKey);
});

after(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.done));
  await env?.teardown();
  await sshd?.stop();
});

const cli = () => ({ TEMPORAL_ADDRESS: env.address, KK_CODEC_KEY: codecKey.toString('base64') });
const workers: ReturnType<typeof spawnKk>[] = [];

/**
 * A real `kk worker` process on the cluster queue (two workers on one queue cannot share a process: the SDK refuses
 * it), both with the one work dir (the workflow bundle is built once). Resolves once it polls, with its identity.
 */
async function startWorker(args: string[] = []): Promise<{ identity: string; banner: string; stop(): Promise<unknown> }> {
  const w = spawnKk(['worker', '--workdir', work, ...args], cli());
  workers.push(w);
  const banner = await waitFor('the worker to poll', async () => /^kk worker .* polling .*$/m.exec(w.stderr())?.[0], 180_000);
  return { identity: banner.split(' ')[2]!, banner, stop: () => (w.child.kill('SIGTERM'), w.done) };
}

function startFacts(id: string, hosts: HostTarget[]) {
  return env.client.workflow.start('factsWorkflow', {
    taskQueue: queue,
    workflowId: id,
    args: [{ hosts }],
    memo: { kk: { command: 'facts', inventory: 'lr', hosts: hosts.map((h) => h.name), localHosts: hosts.filter((h) => h.local).map((h) => h.name) } },
  });
}

/** Each step of a host's workflow: the queue it was scheduled on and the worker that ran it (from the history). */
async function steps(workflowId: string): Promise<{ queue: string; identity: string }[]> {
  const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = new Map<string, string>();
  const out: { queue: string; identity: string }[] = [];
  for (const e of events as temporal.api.history.v1.IHistoryEvent[]) {
    if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.taskQueue?.name ?? '');
    const started = e.activityTaskStartedEventAttributes;
    if (started) out.push({ queue: scheduled.get(String(started.scheduledEventId)) ?? '?', identity: started.identity ?? '' });
  }
  return out;
}

describe('local hosts on a cluster with several workers', () => {
  it("names a local host's queue after the run's queue, embedded or cluster, and finds the local host among a step's arguments", () => {
    for (const runQueue of [`${TASK_QUEUE}/facts-lr`, queue]) {
      assert.equal(localTaskQueue(runQueue, 'lr/me'), `${runQueue}/local/lr/me`);
      assert.equal(localHostOfQueue(localTaskQueue(runQueue, 'lr/me')), 'lr/me');
      assert.equal(localHostOfQueue(localTaskQueue(runQueue, 'local/me')), 'local/me', 'an inventory named local');
      assert.equal(localHostOfQueue(runQueue), undefined);
    }
    assert.deepEqual(localHostsOfArgs([me]), ['lr/me']);
    assert.deepEqual(localHostsOfArgs([{ host: me, port: 5000 }]), ['lr/me'], 'a node input');
    assert.deepEqual(localHostsOfArgs([[remote, me], '10.0.0.9']), ['lr/me'], 'a list of hosts');
    assert.deepEqual(localHostsOfArgs([remote, { host: remote }]), []);
    // Two inventories on one cluster, each with the implicit `localhost`: two machines, two queues.
    const a = localHostsOfArgs([{ ...me, name: 'localhost', inventory: 'alice' }])[0]!;
    const b = localHostsOfArgs([{ ...me, name: 'localhost', inventory: 'bob' }])[0]!;
    assert.notEqual(localTaskQueue(queue, a), localTaskQueue(queue, b));
  });

  it("a local host's step waits, visibly, for a worker started for it, then always runs there; other hosts' steps run on either worker", async () => {
    // Only a worker without local hosts: the remote host is served, the local one waits on its queue.
    const plain = await startWorker();
    assert.match(plain.banner, /no local hosts/);
    const first = await startFacts('lr-0', [me, remote]);
    await waitFor('remote to be gathered', async () => (await env.client.workflow.getHandle('lr-0/node/remote').describe()).status.name === 'COMPLETED');
    const pending = await waitFor('the local step to be scheduled', async () => (await env.client.workflow.getHandle('lr-0/node/me').describe()).raw.pendingActivities?.[0]);
    assert.equal(pending.activityOptions?.taskQueue?.name, `${queue}/local/lr/me`);
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await steps('lr-0/node/me'), [], 'no worker took it');
    // `kk status` (a pure client on the cluster) says what it waits for.
    const status = await kk(['status', 'lr-0', '--workdir', path.join(work, 'cli'), '--output', 'json'], cli());
    assert.equal(status.code, 0, status.stderr);
    const rows = (JSON.parse(status.stdout) as { hosts: { host: string; status: string; step?: string; waiting?: string }[] }).hosts;
    assert.deepEqual(rows.map((r) => [r.host, r.status]), [['me', 'running'], ['remote', 'completed']]);
    assert.equal(rows[0]!.step, 'gatherFacts');
    assert.match(rows[0]!.waiting ?? '', /waiting for a worker started with --local-host lr\/me .*kk worker --local-host lr\/me/);
    const text = await kk(['status', 'lr-0', '--workdir', path.join(work, 'cli')], cli());
    assert.match(text.stdout, /^me\s+running\s+gather facts\s.*waiting for a worker started with --local-host lr\/me/m);

    // The worker started for `me` joins: the waiting step runs there, and so does every later local step.
    const local = await startWorker(['--local-host', 'lr/me']);
    assert.ok(local.banner.includes(`local hosts: lr/me (queue ${queue}/local/lr/me)`), local.banner);
    const runs = [first, ...(await Promise.all([1, 2, 3, 4, 5].map((i) => startFacts(`lr-${i}`, [me, remote]))))];
    const reports = (await Promise.all(runs.map((r) => r.result()))) as FactsReport[];
    assert.equal(reports.length, 6);
    for (const report of reports) {
      assert.deepEqual(report.hosts.map((h) => [h.host, h.error?.message]), [['me', undefined], ['remote', undefined]]);
      assert.equal(report.hosts[0]!.facts?.hostname, os.hostname());
    }
    const remoteBy = new Set<string>();
    for (const r of runs) {
      assert.deepEqual(await steps(`${r.workflowId}/node/me`), [{ queue: `${queue}/local/lr/me`, identity: local.identity }], `${r.workflowId}: the local step ran on the worker started for it`);
      for (const s of await steps(`${r.workflowId}/node/remote`)) {
        assert.equal(s.queue, queue);
        remoteBy.add(s.identity);
      }
    }
    assert.ok(remoteBy.has(plain.identity), 'the worker without local hosts served the remote host');

    // Without the other worker, the one started for `me` serves a remote host too.
    await plain.stop();
    const alone = await startFacts('lr-alone', [remote]);
    assert.equal(((await alone.result()) as FactsReport).hosts[0]!.error, undefined);
    assert.deepEqual(await steps('lr-alone/node/remote'), [{ queue, identity: local.identity }]);
    await local.stop();
  });

  it("the embedded worker (the CLI's, on its run's own queue) serves the run's local host on that queue's local queue", async () => {
    // As cli/context.ts starts it for a run: the run's queue `kk-registry/<run>`, its memo's local hosts.
    const runQueue = `${TASK_QUEUE}/lr-embedded`;
    const w = await createKkWorker({ connection: env.nativeConnection, namespace: 'default', workdir: work, codecKey, taskQueue: runQueue, localHosts: ['lr/me'], identity: 'kk-cli-lr' });
    const run = await env.client.workflow.start('factsWorkflow', { taskQueue: runQueue, workflowId: 'lr-embedded', args: [{ hosts: [me] }] });
    await runWorker(w, run.result());
    assert.equal(((await run.result()) as FactsReport).hosts[0]!.facts?.hostname, os.hostname());
    assert.deepEqual(await steps('lr-embedded/node/me'), [{ queue: `${runQueue}/local/lr/me`, identity: 'kk-cli-lr' }]);
  });

  it('kk worker refuses a --local-host that is not INVENTORY/NAME (it would name another queue), and a bare NAME (every inventory has its own localhost), exit 2', async () => {
    const r = await kk(['worker', '--local-host', 'me/../x', '--workdir', path.join(work, 'refused')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /"me\/\.\.\/x": is not INVENTORY\/NAME/);
    const bare = await kk(['worker', '--local-host', 'localhost', '--workdir', path.join(work, 'refused')]);
    assert.equal(bare.code, 2, bare.stderr);
    assert.match(bare.stderr, /"localhost": name the inventory too, as INVENTORY\/localhost/);
  });
});
