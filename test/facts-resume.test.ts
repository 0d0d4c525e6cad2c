import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { FactsReport } from '../workflows/facts';
import { ensureSudoUser, startSshd, SUDO_USER, type TestSshd } from './support/sshd';
import { kk, spawnKk, waitFor, workdirClient } from './support/kk';

/**
 * The foundation's proof: `kk facts` through a real Temporal server against real sshd hosts and localhost; the CLI
 * killed mid-run and `kk resume` finishing without redoing the hosts that were done; no secret in clear in history.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-facts-'));
const workdir = path.join(dir, 'work');
let fast: TestSshd;
let slow: TestSshd;
let sudoPassword: string;
const gate = path.join(dir, 'slow-gate');

/** Every command a host runs is logged; the slow host holds each command while the gate file exists. */
function wrapper(name: string, held: boolean): string {
  const file = path.join(dir, `${name}-wrapper.sh`);
  // The slow host logs in as a non-root user, who must be able to run the wrapper and append to its log.
  fs.chmodSync(dir, 0o755);
  const log = path.join(dir, `${name}.log`);
  fs.writeFileSync(log, '');
  fs.chmodSync(log, 0o666);
  const hold = held ? `while [ -f ${gate} ]; do sleep 0.2; done\n` : '';
  fs.writeFileSync(file, `#!/bin/sh\necho exec >> ${path.join(dir, `${name}.log`)}\n${hold}exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`);
  fs.chmodSync(file, 0o755);
  return file;
}
const execCount = (name: string) => (fs.existsSync(path.join(dir, `${name}.log`)) ? fs.readFileSync(path.join(dir, `${name}.log`), 'utf8').split('\n').filter(Boolean).length : 0);

function writeInventory(): string {
  const indent = (text: string) => text.trim().split('\n').map((l) => `          ${l}`).join('\n');
  const file = path.join(dir, 'inventory.yaml');
  fs.writeFileSync(
    file,
    `apiVersion: kubekey.kubesphere.io/v1
kind: Inventory
metadata:
  name: facts-test
spec:
  hosts:
    fast:
      connector:
        host: 127.0.0.1
        port: ${fast.port}
        private_key_content: |
${indent(fast.clientKey)}
    slow:
      connector:
        host: 127.0.0.1
        port: ${slow.port}
        user: ${SUDO_USER}
        password: "${sudoPassword}"
  groups:
    image_registry:
      hosts: [fast, slow, localhost]
`,
  );
  return file;
}

before(async () => {
  sudoPassword = ensureSudoUser();
  fast = await startSshd({ forceCommand: wrapper('fast', false) });
  slow = await startSshd({ forceCommand: wrapper('slow', true) });
});

after(async () => {
  await kk(['server', 'stop', '--workdir', workdir]);
  await fast?.stop();
  await slow?.stop();
});

describe('kk facts on a real Temporal server', () => {
  it('gathers facts of SSH hosts (key and password+sudo) and localhost; killed mid-run, kk resume finishes without redoing done hosts', async () => {
    const inventory = writeInventory();
    fs.writeFileSync(gate, '');
    const first = spawnKk(['facts', '-i', inventory, '--workdir', workdir, '--output', 'json']);
    const client = await waitFor('the embedded server', async () => fs.existsSync(path.join(workdir, 'temporal', 'server.json')) && workdirClient(workdir));
    const runId = await waitFor('the run to start', async () => {
      for await (const w of client.workflow.list({ query: `WorkflowType = 'factsWorkflow'` })) return w.workflowId;
      return undefined;
    });
    assert.match(runId, /^kk-facts-facts-test-[0-9a-f]{8}$/);
    await waitFor('fast and localhost to finish', async () => {
      const states = await Promise.all(['fast', 'localhost'].map((h) => client.workflow.getHandle(`${runId}/node/${h}`).describe().then((d) => d.status.name)));
      return states.every((s) => s === 'COMPLETED');
    });
    await waitFor('the slow host to be mid-command', async () => execCount('slow') >= 1);
    first.child.kill('SIGKILL');
    await first.done;
    const fastBefore = execCount('fast');
    const slowBefore = execCount('slow');
    assert.ok(fastBefore >= 1);

    // While nobody runs a worker, status comes from the server alone.
    const status = await kk(['status', runId, '--workdir', workdir, '--output', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout) as { status: string; hosts: { host: string; status: string; step?: string }[] };
    assert.equal(st.status, 'running');
    assert.deepEqual(st.hosts.map((h) => [h.host, h.status]), [['fast', 'completed'], ['slow', 'running'], ['localhost', 'completed']]);
    assert.equal(st.hosts[1]!.step, 'gatherFacts');

    fs.rmSync(gate);
    const resumed = await kk(['resume', '--workdir', workdir, '--output', 'json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`run ${runId}`));
    const report = JSON.parse(resumed.stdout) as FactsReport;
    assert.deepEqual(report.hosts.map((h) => h.host), ['fast', 'slow', 'localhost']);
    for (const h of report.hosts) {
      assert.equal(h.error, undefined, `${h.host}: ${h.error?.message}`);
      assert.equal(h.facts!.os.family, 'deb');
      assert.equal(h.facts!.arch, 'amd64');
      assert.ok(h.facts!.cpus >= 1 && h.facts!.memoryMb > 100);
      assert.ok(h.facts!.filesystems.some((f) => f.mount === '/'));
      assert.ok(h.facts!.interfaces.some((i) => i.cidrs.includes('127.0.0.1/8')));
      assert.equal(h.facts!.hostname, os.hostname());
      assert.ok(Math.abs(h.facts!.clock - Date.now() / 1000) < 120);
    }
    assert.equal(execCount('fast'), fastBefore, 'the host finished before the kill was not contacted again');
    assert.ok(execCount('slow') > slowBefore, 'the interrupted host was retried');
    await client.connection.close();
  });

  it('a second kk facts while one runs attaches to it instead of starting another', async () => {
    const inventory = writeInventory();
    fs.writeFileSync(gate, '');
    const a = spawnKk(['facts', '-i', inventory, '--workdir', workdir]);
    const client = await workdirClient(workdir);
    await waitFor('a run in progress', async () => {
      for await (const w of client.workflow.list({ query: `WorkflowType = 'factsWorkflow' AND ExecutionStatus = 'Running'` })) return true;
      return false;
    });
    const b = spawnKk(['facts', '-i', inventory, '--workdir', workdir]);
    // b prints the run it follows once it has started or attached; only then may the run finish.
    await waitFor('the second kk to attach', async () => b.stderr().includes('run kk-facts-'));
    fs.rmSync(gate);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    let running = 0;
    let total = 0;
    for await (const w of client.workflow.list({ query: `WorkflowType = 'factsWorkflow'` })) {
      total++;
      if (w.status.name === 'RUNNING') running++;
    }
    assert.equal(running, 0);
    assert.equal(total, 2, 'the first test run plus exactly one more, not two');
    await client.connection.close();
  });

  it('no password or key from the inventory appears in clear in any run history, log or output', async () => {
    const info = JSON.parse(fs.readFileSync(path.join(workdir, 'temporal', 'server.json'), 'utf8')) as { address: string };
    // A raw connection without kk's codec sees what the server stores.
    const connection = await Connection.connect({ address: info.address });
    const secrets = [sudoPassword, ...fast.clientKey.split('\n').filter((l) => l.length > 40)];
    const { executions } = await connection.workflowService.listWorkflowExecutions({ namespace: 'default', pageSize: 100 });
    assert.ok(executions.length >= 6, `expected parent and child histories, found ${executions.length}`);
    for (const exec of executions) {
      let pageToken: Uint8Array | undefined;
      do {
        const page = await connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: exec.execution, nextPageToken: pageToken });
        const bytes = Buffer.from(temporal.api.history.v1.History.encode(page.history!).finish());
        for (const secret of secrets) {
          for (const form of [Buffer.from(secret), Buffer.from(Buffer.from(secret).toString('base64'))]) {
            assert.equal(bytes.indexOf(form), -1, `a secret appears in the history of ${exec.execution?.workflowId}`);
          }
        }
        pageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (pageToken);
    }
    await connection.close();
    const log = fs.readFileSync(path.join(workdir, 'logs', 'kk.log'), 'utf8') + fs.readFileSync(path.join(workdir, 'temporal', 'server.log'), 'utf8');
    for (const secret of secrets) assert.ok(!log.includes(secret), 'a secret appears in a log');
  });
});
