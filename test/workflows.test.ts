import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { localTemporal } from './support/temporal';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { KnownHosts } from '../activities/ssh/known-hosts';
import { SessionPool } from '../activities/ssh/pool';
import type { HostTarget } from '../config/hosts';
import { kkDataConverter } from '../runtime/data-converter';
import { workflowBundle } from '../worker/bundle';
import type { FactsReport } from '../workflows/facts';
import { ensureSudoUser, freePort, startSshd, SUDO_USER, type TestSshd } from './support/sshd';

/** The workflows with the real activities on a real Temporal server (@temporalio/testing, existing CLI binary). */
let env: TestWorkflowEnvironment;
let sshd: TestSshd;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-wf-'));
const codecKey = Buffer.alloc(32, 7);

before(async () => {
  ensureSudoUser();
  sshd = await startSshd();
  env = await localTemporal(codecKey);
});

after(async () => {
  await env?.teardown();
  await sshd?.stop();
});

async function activityAttempts(workflowId: string): Promise<number[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0);
}

describe('facts workflow', () => {
  it('reports each host on its own: a wrong password after one attempt, an unreachable host after bounded retries, a good host gathered', async () => {
    const pool = new SessionPool({ knownHosts: new KnownHosts(path.join(work, 'known_hosts')), readyTimeoutMs: 5000 });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'wf-test',
      workflowBundle: await workflowBundle(),
      activities: createActivities({ pool }),
      dataConverter: kkDataConverter(codecKey),
    });
    const hosts: HostTarget[] = [
      { name: 'good', local: false, address: '127.0.0.1', port: sshd.port, user: 'root', privateKey: sshd.clientKey },
      { name: 'badpass', local: false, address: '127.0.0.1', port: sshd.port, user: SUDO_USER, password: 'not-the-password' },
      { name: 'gone', local: false, address: '127.0.0.1', port: await freePort(), user: 'root', privateKey: sshd.clientKey },
    ];
    const report = (await worker.runUntil(
      env.client.workflow.execute('factsWorkflow', { taskQueue: 'wf-test', workflowId: 'wf-facts', args: [{ hosts }] }),
    )) as FactsReport;
    pool.closeAll();
    const byHost = Object.fromEntries(report.hosts.map((h) => [h.host, h]));
    assert.equal(byHost.good!.facts?.os.family, 'deb');
    assert.equal(byHost.badpass!.error?.type, 'SshAuthFailed');
    assert.match(byHost.badpass!.error!.message, /badpass .*authentication failed/);
    assert.equal(byHost.gone!.error?.type, 'SshUnreachable');
    assert.deepEqual(await activityAttempts('wf-facts/node/badpass'), [1], 'a wrong password is not retried');
    assert.deepEqual(await activityAttempts('wf-facts/node/gone'), [5], 'an unreachable host is retried, within a bound');
    assert.deepEqual(await activityAttempts('wf-facts/node/good'), [1]);
  });
});
