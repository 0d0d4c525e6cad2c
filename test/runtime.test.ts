import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError, loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { localTemporal } from './support/temporal';
import type { HostTarget } from '../config/hosts';
import { AesGcmCodec } from '../runtime/codec';
import { kkDataConverter } from '../runtime/data-converter';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { KnownHosts } from '../activities/ssh/known-hosts';
import { LocalHostGate } from '../worker/local-hosts';
import { createKkWorker, runWorker } from '../worker/worker';
import { localTaskQueue } from '../workflows/local-queue';
import type { FactsReport } from '../workflows/facts';
import { waitFor } from './support/kk';

/** Who can make a worker act: only holders of the payload key, and on `local` hosts only a worker started for them. */
let env: TestWorkflowEnvironment;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-rt-'));
const codecKey = Buffer.alloc(32, 9);
const me: HostTarget = { name: 'me', local: true, address: '127.0.0.1', port: 22, user: 'root' };

before(async () => {
  env = await localTemporal(codecKey);
});

after(async () => {
  await env?.teardown();
});

async function events(workflowId: string): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  return (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

describe('payload codec', () => {
  const codec = new AesGcmCodec(codecKey);
  const plain = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"hosts":[]}') };

  it('round-trips what it encrypted', async () => {
    const [decoded] = await codec.decode(await codec.encode([plain]));
    assert.equal(Buffer.from(decoded!.data!).toString(), '{"hosts":[]}');
  });

  it('refuses a plain payload, one under another key, and one whose ciphertext was altered', async () => {
    await assert.rejects(codec.decode([plain]), /not encrypted with kk's key/);
    const [other] = await new AesGcmCodec(Buffer.alloc(32, 1)).encode([plain]);
    await assert.rejects(codec.decode([other!]), /encrypted with key/);
    const [mine] = await codec.encode([plain]);
    const forged = { ...mine!, data: Buffer.from(mine!.data!) };
    forged.data[14]! ^= 1;
    await assert.rejects(codec.decode([forged]), /authentication tag/);
  });
});

describe('worker', () => {
  it('refuses a workflow started with a plain (unencrypted) payload: the task fails, no step is scheduled', async () => {
    // A worker started for `me`, so that only the codec stands between the forged input and a root shell.
    const w = await createKkWorker({ connection: env.nativeConnection, namespace: 'default', workdir: work, codecKey, taskQueue: 'rt-plain', localHosts: ['me'] });
    const forger = new Client({ connection: env.connection });
    const marker = path.join(work, 'forged-ran');
    const host = { ...me, name: 'me' };
    await forger.workflow.start('factsWorkflow', { taskQueue: 'rt-plain', workflowId: 'rt-forged', args: [{ hosts: [host], note: `touch ${marker}` }] });
    const failed = await runWorker(
      w,
      waitFor('the worker to refuse the task', async () => (await events('rt-forged')).find((e) => e.workflowTaskFailedEventAttributes)),
    ).then(() => events('rt-forged'));
    const taskFailed = failed.find((e) => e.workflowTaskFailedEventAttributes)!.workflowTaskFailedEventAttributes!;
    const why = await decodeOptionalFailureToOptionalError(loadDataConverter(kkDataConverter(codecKey)), taskFailed.failure);
    assert.match(why!.message, /not encrypted with kk's key/);
    assert.equal(failed.filter((e) => e.activityTaskScheduledEventAttributes || e.startChildWorkflowExecutionInitiatedEventAttributes).length, 0, 'nothing was scheduled');
    assert.ok(!fs.existsSync(marker));
    await env.client.workflow.getHandle('rt-forged').terminate('test done');
  });

  it('refuses a local host it was not started for, at once and saying how, even on its queue; serves one it was started for', async () => {
    // A local host's steps go to its own queue, which only workers started for it poll; a worker that polls it
    // anyway (defence in depth: a hand-made one) is still refused by its pool's gate, for good.
    const refusing = await createKkWorker({ connection: env.nativeConnection, namespace: 'default', workdir: work, codecKey, taskQueue: 'rt-local' });
    const gate = new LocalHostGate({ knownHosts: new KnownHosts(path.join(work, 'known_hosts')) }, new Set(), 'rt-intruder');
    const intruder = await Worker.create({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: localTaskQueue('rt-local', 'me'),
      activities: createActivities({ pool: gate }),
      dataConverter: kkDataConverter(codecKey),
      identity: 'rt-intruder',
    });
    const run = await env.client.workflow.start('factsWorkflow', { taskQueue: 'rt-local', workflowId: 'rt-local-refused', args: [{ hosts: [me] }] });
    const done = run.result() as Promise<FactsReport>;
    await Promise.all([runWorker(refusing, done), intruder.runUntil(done)]);
    const refused = await done;
    assert.equal(refused.hosts[0]!.error?.type, 'LocalHostRefused');
    assert.match(refused.hosts[0]!.error!.message, /me is a local host .*kk worker --local-host me/);
    const started = (await events('rt-local-refused/node/me')).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!);
    assert.deepEqual(started.map((a) => [a.attempt, a.identity]), [[1, 'rt-intruder']], 'taken from its queue only, and not retried');

    const serving = await createKkWorker({ connection: env.nativeConnection, namespace: 'default', workdir: work, codecKey, taskQueue: 'rt-local-ok', localHosts: ['me'] });
    const served = (await runWorker(
      serving,
      env.client.workflow.execute('factsWorkflow', { taskQueue: 'rt-local-ok', workflowId: 'rt-local-served', args: [{ hosts: [me] }] }),
    ).then(() => env.client.workflow.getHandle('rt-local-served').result())) as FactsReport;
    assert.equal(served.hosts[0]!.error, undefined, served.hosts[0]!.error?.message);
    assert.equal(served.hosts[0]!.facts?.hostname, os.hostname());
  });
});
