import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { parse } from 'yaml';
import { sh } from '../activities/ssh/quote';
import { stagingFileName } from '../activities/ssh/upload';
import { dockerEnv } from '../lab/docker-engine';
import type { LabFile } from '../lab/lab-file';
import { containerName } from '../lab/paths';
import type { DevServerInfo } from '../runtime/dev-server';
import { auditCursor, auditSince, enableHostAudit, writtenTo, type HostAudit } from './support/host-audit';
import { kk, spawnKk, waitFor, workdirClient, type KkResult } from './support/kk';
import { lab, labInventory, labUp, labVersion, onNode, resetNodes } from './support/lab';

/**
 * The fault suite: a three-node HA install (docker-registry on the lab's S3 store, logged in as the lab's `ops` user
 * with a password, through sudo) interrupted every way the product promises to survive, each case ending with the
 * same checks against an uninterrupted install in the same work dir: the registry answers through the VIP, the
 * hosts hold the same files, units and image ids, no finished step ran again (from the run's history), and the
 * uploads re-sent at most what was in flight (counted by the hosts' own SFTP servers).
 */
let labFile: LabFile;
const NODES = ['node1', 'node2', 'node3'];
const execFileAsync = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-faults-'));
const workdir = path.join(dir, 'work');
/** The upload layer's resume rewinds this far behind what the host holds (activities/ssh/upload.ts: 16 × 64 KiB). */
const IN_FLIGHT_WINDOW = 17 * 64 * 1024;

interface MatrixRow {
  fault: string;
  outcome: string;
  seconds: number;
}
const matrix: MatrixRow[] = [];

interface LabHosts {
  spec: { hosts: Record<string, { connector: Record<string, unknown> }> };
}

function passwordHosts(changes: Record<string, string> = {}): Record<string, unknown> {
  const inv = parse(fs.readFileSync(labFile.inventoryPassword, 'utf8')) as LabHosts;
  for (const [node, password] of Object.entries(changes)) inv.spec.hosts[node]!.connector.password = password;
  return inv.spec.hosts;
}

const inventory = (name = 'faults', changes: Record<string, string> = {}) => labInventory(labFile, dir, name, NODES, { hosts: passwordHosts(changes) });

const s3Set = () => {
  const s = labFile.s3!;
  return `image_registry.docker_registry.storage.s3=${JSON.stringify({ accesskey: s.accesskey, secretkey: s.secretkey, region: s.region, bucket: s.bucket, regionendpoint: s.endpoint })}`;
};

/** The run's configuration: the inventory and its --set values (init takes them, and kk resume -i as the fix). */
const configArgs = (inv = inventory()) => [
  '-i', inv,
  '--set', labFile.set['docker-registry'], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`,
  '--set', `image_registry.ha_vip=${labFile.vip}`, '--set', s3Set(),
];
const initArgs = (inv = inventory()) => ['init', 'registry', ...configArgs(inv), '--workdir', workdir, '--output', 'json'];

const on = (node: string, cmd: string, stdin?: string) => onNode(labFile, node, cmd, stdin);
const dockerTarball = () => {
  const v = labVersion(labFile, 'docker_version');
  return path.join(labFile.workdir, 'kubekey', 'docker', v, 'amd64', `docker-${v}.tgz`);
};

/** The file the login user's SFTP session stages the Docker tarball in (named by its content's hash). */
function tarballStaging(): RegExp {
  const sha256 = createHash('sha256').update(fs.readFileSync(dockerTarball())).digest('hex');
  return new RegExp(`/\\.kk-staging/${stagingFileName(sha256)}$`);
}

/** Everything an install leaves on a host that must not depend on how the run went: files, units, images, containers. */
async function hostState(node: string): Promise<string> {
  return on(
    node,
    [
      // Not compared: htpasswd (a fresh bcrypt salt per write; the install's own push and pull log in with it) and
      // Docker's key.json (the identity dockerd generates on its first start on each host).
      "find /opt /etc/systemd/system /usr/local/bin /etc/docker /etc/keepalived /var/lib/kubekey -xdev \\( -type f -o -type l \\) ! -name htpasswd ! -path /etc/docker/key.json ! -path '*/pending-restart/*' 2>/dev/null | sort | xargs -r sha256sum",
      "docker image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort",
      "docker ps --format '{{.Names}} {{.Image}}' | sort",
      'systemctl is-enabled containerd docker docker-registry keepalived 2>&1 || true',
      'systemctl is-active containerd docker docker-registry keepalived 2>&1 || true',
      'ls /var/lib/kubekey/pending-restart 2>/dev/null || true',
    ].join('; echo ---; '),
  );
}

/** Activity types completed per workflow of a run (ids relative to the run), from the histories on the server. */
async function completedSteps(client: Client, runId: string, since: Date): Promise<Record<string, string[]>> {
  const steps: Record<string, string[]> = {};
  // Every run of one inventory has the same id: this case's executions are those started since it began.
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "${runId}" AND StartTime >= "${since.toISOString()}"` })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const types = new Map<string, string>();
    const done: string[] = [];
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) types.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      if (e.activityTaskCompletedEventAttributes) done.push(types.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId)) ?? '?');
    }
    const key = wf.workflowId.slice(runId.length) || '/';
    steps[key] = [...(steps[key] ?? []), ...done].sort();
  }
  return steps;
}

/** The run under way in the work dir (the newest init registry run). */
async function currentRun(client: Client): Promise<string> {
  return waitFor('the run to start', async () => {
    for await (const wf of client.workflow.list({ query: 'WorkflowType = "initRegistryWorkflow" AND ExecutionStatus = "Running"' })) return wf.workflowId;
    return undefined;
  });
}

/** Waits until some workflow of the run has completed an activity of this type. */
async function waitStep(client: Client, runId: string, since: Date, activityType: string, host?: string): Promise<void> {
  await waitFor(`${activityType}${host ? ` on ${host}` : ''}`, async () => {
    const steps = await completedSteps(client, runId, since);
    return Object.entries(steps).some(([wf, done]) => (!host || wf.endsWith(`/node/${host}`)) && done.includes(activityType));
  }, 180_000);
}

/**
 * Polls the size of the file the login user stages the Docker tarball in, until it is part-way. Through `docker
 * exec`, not SSH: the host's sshd counts only kk's sessions.
 */
async function waitMidUpload(node: string, from: number, to: number): Promise<number> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const r = await execFileAsync('docker', ['exec', containerName(node), 'sh', '-c', 'stat -c %s /home/ops/.kk-staging/* 2>/dev/null | sort -n | tail -1'], { env: dockerEnv() }).catch(() => ({ stdout: '' }));
    const size = Number(r.stdout.trim() || 0);
    if (size > from && size < to) return size;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`${node}: no upload part-way within 180 s`);
}

function serverInfo(): DevServerInfo {
  return JSON.parse(fs.readFileSync(path.join(workdir, 'temporal', 'server.json'), 'utf8')) as DevServerInfo;
}

let reference: { states: Record<string, string>; steps: Record<string, string[]>; seconds: number; sessions: string } | undefined;

/** The checks every case ends with; returns the outcome line for the matrix. */
async function sameAsUninterrupted(client: Client, runId: string, since: Date, cursors: Record<string, string>, result: KkResult): Promise<string> {
  assert.equal(result.code, 0, `the run finished: ${result.stderr.slice(-3000)}`);
  const report = JSON.parse(result.stdout) as { endpoint: string; verification: { pulledOn: string[] } };
  assert.equal(report.endpoint, labFile.vip);
  assert.deepEqual(report.verification.pulledOn, NODES);
  // The registry answers through the VIP, over TLS with kk's CA, and asks for a login.
  const code = await on('node1', sh`curl -sS -o /dev/null -w '%{http_code}' --cacert ${`/etc/docker/certs.d/${labFile.vip}/ca.crt`} ${`https://${labFile.vip}/v2/`}`);
  assert.equal(code.trim(), '401', 'the registry answers through the VIP');
  for (const n of NODES) assert.equal(await hostState(n), reference!.states[n], `${n}: the same files, units and images as an uninterrupted install`);
  assert.deepEqual(await completedSteps(client, runId, since), reference!.steps, 'every step completed once, as in an uninterrupted run');
  const audits: Record<string, HostAudit> = {};
  for (const n of NODES) audits[n] = await auditSince(labFile, n, cursors[n]!);
  const sessions = NODES.map((n) => audits[n]!.sessions).join('/');
  const staged = NODES.map((n) => (writtenTo(audits[n]!, /\.kk-staging\//) / 2 ** 20).toFixed(1)).join('/');
  return `finished, same state; SSH sessions ${sessions} (reference ${reference!.sessions}); MiB uploaded ${staged}`;
}

async function cursorsNow(): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await auditCursor(labFile, n)] as const)));
}

async function freshHosts(): Promise<void> {
  await resetNodes(labFile);
  // Reinstalled hosts have new host keys: their old pins go, as kk's fix for a changed key says.
  fs.rmSync(path.join(workdir, 'known_hosts'), { force: true });
  await enableHostAudit(labFile, NODES);
}

before(async () => {
  labFile = await labUp(3);
  await freshHosts();
});

after(async () => {
  process.stdout.write(`\nfault suite matrix (docker-registry, 3 nodes HA on S3, sudo with password):\n| fault | outcome | seconds |\n|---|---|---|\n${matrix.map((r) => `| ${r.fault} | ${r.outcome} | ${r.seconds.toFixed(0)} |`).join('\n')}\n`);
  await resetNodes(labFile);
  await kk(['server', 'stop', '--workdir', workdir]);
});

describe('the fault suite', () => {
  let client: Client;
  const resumeArgs = ['resume', '--workdir', workdir, '--output', 'json'];

  it('reference: an uninterrupted install', async () => {
    const cursors = await cursorsNow();
    const since = new Date();
    const r = await kk(initArgs());
    assert.equal(r.code, 0, r.stderr);
    client = await workdirClient(workdir);
    const runId = await waitFor('the finished run', async () => {
      for await (const wf of client.workflow.list({ query: 'WorkflowType = "initRegistryWorkflow"' })) return wf.workflowId;
      return undefined;
    });
    const states = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await hostState(n)] as const)));
    const tarball = fs.statSync(dockerTarball()).size;
    const audits = await Promise.all(NODES.map((n) => auditSince(labFile, n, cursors[n]!)));
    for (const [i, audit] of audits.entries()) assert.equal(writtenTo(audit, tarballStaging()), tarball, `${NODES[i]}: the tarball was uploaded once, in full`);
    reference = { states, steps: await completedSteps(client, runId, since), seconds: (Date.now() - since.getTime()) / 1000, sessions: audits.map((a) => a.sessions).join('/') };
    assert.match(states.node1!, /docker-registry/);
    assert.ok(reference.steps['/node/node1']?.includes('installDocker'), JSON.stringify(reference.steps));
    matrix.push({ fault: 'none (reference)', outcome: `finished; SSH sessions ${reference.sessions}`, seconds: reference.seconds });
  });

  it('the CLI killed at each phase boundary and in the middle of the largest upload: kk resume finishes, nothing finished runs again', async () => {
    await freshHosts();
    const cursors = await cursorsNow();
    const since = new Date();
    const tarball = fs.statSync(dockerTarball()).size;
    let runId = '';
    const kills: string[] = [];
    const killWhen = async (what: string, args: string[], trigger: () => Promise<unknown>) => {
      const run = spawnKk(args);
      await trigger();
      run.child.kill('SIGKILL');
      await run.done;
      kills.push(what);
    };
    await killWhen('after precheck', initArgs(), async () => {
      runId = await currentRun(client);
      await waitFor('the node workflows', async () => Object.keys(await completedSteps(client, runId, since)).some((k) => k.startsWith('/node/')), 180_000);
    });
    const staged = { seen: 0 };
    await killWhen('mid-upload', resumeArgs, async () => {
      staged.seen = await waitMidUpload('node1', 8 * 2 ** 20, tarball - 8 * 2 ** 20);
    });
    const killedAt = Number((await on('node1', 'stat -c %s /home/ops/.kk-staging/* | sort -n | tail -1')).trim());
    assert.ok(killedAt >= staged.seen && killedAt < tarball, `killed part-way: ${killedAt} of ${tarball} bytes on node1`);
    await killWhen("after node1's Docker", resumeArgs, () => waitStep(client, runId, since, 'installDocker', 'node1'));
    await killWhen('after the registries', resumeArgs, async () => {
      for (const n of NODES) await waitStep(client, runId, since, 'waitRegistryHealthy', n);
    });
    await killWhen('during keepalived', resumeArgs, () => waitFor('keepalived under way', async () => (await on('node1', 'ls /opt/keepalived 2>/dev/null || true')).trim() !== '', 180_000));
    const r = await kk(resumeArgs);
    const outcome = await sameAsUninterrupted(client, runId, since, cursors, r);
    // node1's tarball: what reached the host before the kill is not sent again, bar the in-flight window.
    const resent = writtenTo(await auditSince(labFile, 'node1', cursors.node1!), tarballStaging()) - tarball;
    assert.ok(resent <= IN_FLIGHT_WINDOW, `node1 re-sent ${resent} bytes after the kill at ${killedAt} (at most ${IN_FLIGHT_WINDOW})`);
    matrix.push({ fault: `CLI SIGKILLed ${kills.length}× (${kills.join(', ')}), kk resume each time`, outcome: `${outcome}; node1 re-sent ${(resent / 1024).toFixed(0)} KiB of the tarball`, seconds: (Date.now() - since.getTime()) / 1000 });
  });

  it("a password rotated on one host and another program on the registry port of another: both park with their fix while the third finishes; kk resume -i finishes the run", async () => {
    await freshHosts();
    const cursors = await cursorsNow();
    const since = new Date();
    const run = spawnKk(initArgs());
    const runId = await currentRun(client);
    await waitFor('the node workflows', async () => Object.keys(await completedSteps(client, runId, since)).some((k) => k.startsWith('/node/')), 180_000);
    // Under the run's feet: the password is rotated on node2, and something else takes port 443 on node3.
    await on('node2', 'chpasswd', 'ops:Rotated-Password-2\n');
    await on('node3', 'systemd-run --unit kk-foreign-listener nc -lk 443');
    const parked = await run.done;
    assert.equal(parked.code, 3, parked.stderr);
    assert.match(parked.stderr, /node2: step \w+: /);
    assert.match(parked.stderr, /node3: step deployRegistry: CommandFailed: .*port 443 is held by nc \(pid \d+\), not by the registry/);
    assert.doesNotMatch(parked.stderr, /^ {2}node1: step/m, 'node1 finished its node work');
    assert.doesNotMatch(parked.stderr + parked.stdout, /Rotated-Password-2/);
    assert.equal((await on('node1', 'systemctl is-active docker-registry')).trim(), 'active');
    // The person fixes both: the inventory gets the new password; the other program is stopped.
    await on('node3', 'systemctl stop kk-foreign-listener');
    const fixedDir = fs.mkdtempSync(path.join(dir, 'fixed-'));
    const fixed = labInventory(labFile, fixedDir, 'faults', NODES, { hosts: passwordHosts({ node2: 'Rotated-Password-2' }) });
    const r = await kk([...resumeArgs, ...configArgs(fixed)]);
    const outcome = await sameAsUninterrupted(client, runId, since, cursors, r);
    matrix.push({ fault: 'password rotated on node2 and a foreign listener on node3:443, mid-run', outcome: `both parked (exit 3), fixed, kk resume -i: ${outcome}`, seconds: (Date.now() - since.getTime()) / 1000 });
  });

  it("a host's sshd killed mid-upload and the embedded server killed mid-run: the step retries until the host is back, the next kk command restarts the server, and the run finishes", async () => {
    await freshHosts();
    const cursors = await cursorsNow();
    const since = new Date();
    const run = spawnKk(initArgs());
    const runId = await currentRun(client);
    const tarball = fs.statSync(dockerTarball()).size;
    await waitMidUpload('node2', 4 * 2 ** 20, tarball - 4 * 2 ** 20);
    assert.equal((await lab(['fault', 'node2', 'kill-sshd'])).code, 0);
    await waitStep(client, runId, since, 'installDocker', 'node1');
    // The embedded server and its supervisor die as in a crash; the CLI attached to them loses its server.
    const info = serverInfo();
    for (const pid of [info.serverPid, info.pid]) if (pid) process.kill(pid, 'SIGKILL');
    const lost = await run.done;
    assert.notEqual(lost.code, 0, 'the CLI cannot go on without its server');
    await client.connection.close().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal((await lab(['fault', 'node2', 'start'])).code, 0);
    const r = await kk(resumeArgs);
    client = await workdirClient(workdir);
    const outcome = await sameAsUninterrupted(client, runId, since, cursors, r);
    matrix.push({ fault: 'sshd killed on node2 mid-upload, then the embedded server SIGKILLed', outcome: `kk resume restarted the server: ${outcome}`, seconds: (Date.now() - since.getTime()) / 1000 });
  });

  it('kk resume --abort on a parked run: a summary of what was done and what was not, and no host changed', async () => {
    const since = new Date();
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await hostState(n)] as const)));
    const r = await kk(initArgs(inventory('faults', { node3: 'Not-The-Password-3' })));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /node3: .*SshAuthFailed/);
    const aborted = await kk(['resume', '--abort', '--workdir', workdir]);
    assert.equal(aborted.code, 1, aborted.stderr);
    assert.match(aborted.stderr, /node3: aborted at probeHost/);
    assert.match(aborted.stderr, /precheck failed; nothing was changed on any host/);
    for (const n of NODES) assert.equal(await hostState(n), before[n], `${n} unchanged`);
    matrix.push({ fault: 'wrong password for node3, then kk resume --abort', outcome: 'parked in precheck (exit 3); aborted with a summary (exit 1); no host changed', seconds: (Date.now() - since.getTime()) / 1000 });
  });

  it("a wrong password in an install's precheck parks the host; kk resume -i with the right one finishes, and the node work uses the fixed login", async () => {
    const since = new Date();
    const r = await kk(initArgs(inventory('faults', { node2: 'Not-The-Password-2' })));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /node2: .*SshAuthFailed/);
    const fixed = await kk([...resumeArgs, ...configArgs(inventory('faults'))]);
    assert.equal(fixed.code, 0, `finished without parking again in the node work: ${fixed.stderr}`);
    matrix.push({ fault: "wrong password for node2 in the install's precheck, then kk resume -i", outcome: 'parked in precheck (exit 3); resumed with the fixed inventory, node work used it (exit 0)', seconds: (Date.now() - since.getTime()) / 1000 });
  });
});
