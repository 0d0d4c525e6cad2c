import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { RunMemo } from '../cli/follow';
import { hostProgress } from '../cli/progress';
import { runRef } from '../cli/run-children';
import { workflowBuildId } from '../runtime/build-id';
import { freePort, startSshd, type TestSshd } from './support/sshd';
import { kk, spawnKk, waitFor, workdirClient } from './support/kk';

/**
 * Runs in one embedded work dir, through the real CLI: a command's worker serves its own run only (never another
 * inventory's parked run); a re-run with other input does not attach to the old run; `kk cancel`; failures in
 * `kk status` decoded.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-runs-'));
const workdir = path.join(dir, 'work');
const sshds: Record<string, TestSshd> = {};
let client: Client;

/** Each command on host `name` is logged and held while `<name>.gate` exists. */
function wrapper(name: string): string {
  const file = path.join(dir, `${name}-wrapper.sh`);
  fs.writeFileSync(path.join(dir, `${name}.log`), '');
  fs.writeFileSync(file, `#!/bin/sh\necho exec >> ${path.join(dir, `${name}.log`)}\nwhile [ -f ${path.join(dir, `${name}.gate`)} ]; do sleep 0.2; done\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`);
  fs.chmodSync(file, 0o755);
  return file;
}
const execCount = (name: string) => fs.readFileSync(path.join(dir, `${name}.log`), 'utf8').split('\n').filter(Boolean).length;
const hold = (name: string) => fs.writeFileSync(path.join(dir, `${name}.gate`), '');
const release = (name: string) => fs.rmSync(path.join(dir, `${name}.gate`), { force: true });

function inventory(name: string, hosts: Record<string, { port: number; key?: string; internal?: string }>): string {
  const indent = (text: string) => text.trim().split('\n').map((l) => `          ${l}`).join('\n');
  const body = Object.entries(hosts)
    .map(([host, h]) => `    ${host}:\n      connector:\n        host: 127.0.0.1\n        port: ${h.port}\n${h.key ? `        private_key_content: |\n${indent(h.key)}\n` : ''}${h.internal ? `      internal_ipv4: ${h.internal}\n` : ''}`)
    .join('');
  const file = path.join(dir, `${name}-${Object.values(hosts).map((h) => h.internal ?? '').join('')}.yaml`);
  fs.writeFileSync(file, `apiVersion: kubekey.kubesphere.io/v1\nkind: Inventory\nmetadata:\n  name: ${name}\nspec:\n  hosts:\n${body}`);
  return file;
}

async function runOf(type: string, inventoryName: string): Promise<string> {
  return waitFor(`a ${inventoryName} run`, async () => {
    for await (const w of client.workflow.list({ query: `WorkflowType = '${type}'` })) if (w.workflowId.startsWith(`kk-facts-${inventoryName}-`)) return w.workflowId;
    return undefined;
  });
}

/**
 * Every event of a run and its children, and their pending steps, as JSON with the worker identities: a retried step
 * has its started event written only when it ends, so one still under way shows only as the pending step's worker.
 */
async function historyText(runId: string, hosts: string[]): Promise<string> {
  const ids = [runId, ...hosts.map((h) => `${runId}/node/${h}`)];
  const histories = await Promise.all(ids.map((id) => client.workflow.getHandle(id).fetchHistory().catch(() => ({ events: [] }))));
  const pending = await Promise.all(ids.map((id) => client.workflow.getHandle(id).describe().then((d) => d.raw.pendingActivities ?? [])));
  return JSON.stringify([histories, pending]);
}

before(async () => {
  for (const name of ['a', 'b']) sshds[name] = await startSshd({ forceCommand: wrapper(name) });
});

after(async () => {
  release('a');
  release('b');
  await client?.connection.close();
  await kk(['server', 'stop', '--workdir', workdir]);
  for (const s of Object.values(sshds)) await s.stop();
});

describe('runs in one work dir', () => {
  let runA = '';
  const invA = () => inventory('inv-a', { a: { port: sshds.a!.port, key: sshds.a!.clientKey } });

  it("a command's in-process worker does not work on another inventory's unfinished run", async () => {
    hold('a');
    const first = spawnKk(['facts', '-i', invA(), '--workdir', workdir]);
    client = await waitFor('the embedded server', async () => fs.existsSync(path.join(workdir, 'temporal', 'server.json')) && workdirClient(workdir));
    runA = await runOf('factsWorkflow', 'inv-a');
    await waitFor('host a to be mid-command', async () => execCount('a') >= 1);
    first.child.kill('SIGKILL');
    await first.done;
    const killedAt = Date.now();

    // B runs past the time A's interrupted step becomes due again (its 15 s heartbeat timeout).
    hold('b');
    const b = spawnKk(['facts', '-i', inventory('inv-b', { b: { port: sshds.b!.port, key: sshds.b!.clientKey } }), '--workdir', workdir]);
    await waitFor('host b to be mid-command', async () => execCount('b') >= 1);
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 22_000 - Date.now())));
    release('b');
    const rb = await b.done;
    assert.equal(rb.code, 0, rb.stderr);
    assert.ok(!(await historyText(runA, ['a'])).includes(`kk-cli-${b.child.pid}@`), `B's worker (pid ${b.child.pid}) worked on run A`);
    const d = await client.workflow.getHandle(runA).describe();
    assert.equal(d.status.name, 'RUNNING');
    assert.equal(d.taskQueue, `kk-registry/${runA}`);
  });

  it('a re-run with other input does not attach to the running run: exit 2 naming kk resume and kk cancel, nothing started', async () => {
    const changed = inventory('inv-a', { a: { port: sshds.a!.port, key: sshds.a!.clientKey, internal: '127.0.0.1' } });
    const before = (await client.workflow.getHandle(runA).describe()).runId;
    const r = await kk(['facts', '-i', changed, '--workdir', workdir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`run ${runA} is already under way with different input`));
    assert.match(r.stderr, new RegExp(`kk resume ${runA}`));
    assert.match(r.stderr, new RegExp(`kk cancel ${runA}`));
    assert.equal((await client.workflow.getHandle(runA).describe()).runId, before, 'no new run');

    const cancelled = await kk(['cancel', runA, '--workdir', workdir]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stderr, new RegExp(`run ${runA} cancelled`));
    assert.equal((await client.workflow.getHandle(runA).describe()).status.name, 'CANCELLED');

    release('a');
    const rerun = await kk(['facts', '-i', changed, '--workdir', workdir, '--output', 'json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    const runs = JSON.parse((await kk(['runs', '--workdir', workdir, '--output', 'json'])).stdout) as { run: string; status: string }[];
    assert.deepEqual(runs.filter((x) => x.run === runA).map((x) => x.status).sort(), ['canceled', 'completed']);
    assert.ok(runs.some((x) => x.run.startsWith('kk-facts-inv-b-') && x.status === 'completed'), JSON.stringify(runs));
  });

  it('kk status shows failures decoded: the pending step\'s last failure, and the failed host workflow\'s', async () => {
    const port = await freePort();
    const c = spawnKk(['facts', '-i', inventory('inv-c', { gone: { port, key: sshds.a!.clientKey } }), '--workdir', workdir]);
    const runC = await runOf('factsWorkflow', 'inv-c');
    const pending = await waitFor('a failed attempt', async () => (await hostProgress(client, await runRef(client, runC), ['gone']))[0]!.lastFailure, 30_000);
    assert.match(pending, /gone .*cannot connect \(ECONNREFUSED\)/);
    assert.doesNotMatch(pending, /Encoded failure/);
    const rc = await c.done;
    assert.equal(rc.code, 1, rc.stderr);
    const status = await kk(['status', runC, '--workdir', workdir, '--output', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const host = (JSON.parse(status.stdout) as { hosts: { host: string; status: string; failure?: string }[] }).hosts[0]!;
    assert.equal(host.status, 'failed');
    assert.match(host.failure ?? '', /gone .*cannot connect \(ECONNREFUSED\)/);
    const text = await kk(['status', runC, '--workdir', workdir]);
    assert.doesNotMatch(text.stdout, /Encoded failure/);
  });

  it('a run started by another kk build is not carried on by this one: resume names that build (exit 2), no task of it runs here, and kk cancel ends it where it stands', async () => {
    // The facts run of inv-b, started again as an older kk would have: same input, its own build in the memo.
    const runB = await runOf('factsWorkflow', 'inv-b');
    const started = (await client.workflow.getHandle(runB).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
    const args = await decodeArrayFromPayloads(client.options.loadedDataConverter, started.input!.payloads!);
    const memo = (await client.workflow.getHandle(runB).describe()).memo!.kk as RunMemo;
    const older = 'kk-facts-inv-older';
    await client.workflow.start('factsWorkflow', { workflowId: older, taskQueue: `kk-registry/${older}`, args, memo: { kk: { ...memo, build: 'b0b0b0b0b0b0' } } });
    const r = await kk(['resume', older, '--workdir', workdir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`run ${older} was started by kk build b0b0b0b0b0b0; this kk is build ${workflowBuildId()}`));
    assert.match(r.stderr, new RegExp(`kk cancel ${older}`));
    const events = (await client.workflow.getHandle(older).fetchHistory()).events!;
    assert.ok(!events.some((e) => e.workflowTaskStartedEventAttributes || e.workflowTaskFailedEventAttributes), 'no worker of this build took a task of the run');
    const cancelled = await kk(['cancel', older, '--workdir', workdir]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stderr, /terminated: it was started by another kk build/);
    assert.equal((await client.workflow.getHandle(older).describe()).status.name, 'TERMINATED');
    // The runs this build started carry its id.
    assert.equal(memo.build, workflowBuildId());
  });
});
