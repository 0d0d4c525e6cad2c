import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curlConfig, curlTransport, parseCurlOutput } from '../activities/harbor/transport';
import { isHostFailure } from '../activities/ssh/errors';
import { LocalSession } from '../activities/ssh/local';
import type { ExecOptions, HostSession } from '../activities/ssh/session';
import type { HostTarget } from '../config/hosts';
import { freePort } from '../runtime/dev-server';
import { HarborApi, isHarborApiError, replicationRobotSpec } from '../registry/harbor/api';
import { ensureRegistryPki } from '../pki';
import { applyMeshPlan, PeerNotReadyError, PeerRefusedError, planMesh, readMeshState, type MeshPeer } from '../registry/harbor/mesh';
import { pushImage, startStandins, type StandinLab } from './support/harbor-standin';

/**
 * The curl transport on a host (here this machine, through LocalSession) against two loopback stand-ins with kk's
 * CA: the client and the mesh reconciler end to end, and no secret on any command line.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-harbor-curl-'));
const PASSWORD = 'Transport-Pass-1';
let lab: StandinLab;
const target: HostTarget = { name: 'localhost', local: true, address: '127.0.0.1', port: 22, user: 'root' };

/** A session that keeps every command line and stdin it ran. */
class RecordingSession implements HostSession {
  readonly commands: string[] = [];
  readonly stdins: string[] = [];
  private readonly inner = new LocalSession(target);
  readonly target = target;
  exec(cmd: string, options: ExecOptions = {}) {
    this.commands.push(cmd);
    this.stdins.push(String(options.stdin ?? ''));
    return this.inner.exec(cmd, options);
  }
  upload: HostSession['upload'] = (...args) => this.inner.upload(...args);
  close() {}
}

const apiFor = (session: HostSession, port: number, password = PASSWORD, caPath = lab.caPath) => new HarborApi(curlTransport({ session, port, caPath, username: 'admin', password, timeoutMs: 20_000 }));

before(async () => {
  lab = await startStandins(dir, ['a', 'b'], { password: PASSWORD, statusRefreshSeconds: 30 });
});

after(() => lab.stop());

describe('curl transport over a host session', () => {
  it('parses status, headers and body; passes the credential only on stdin', async () => {
    const session = new RecordingSession();
    const api = apiFor(session, lab.sites[0]!.httpsPort);
    const health = await api.health();
    assert.equal(health.healthy, true, JSON.stringify(health));
    const me = await api.currentUser();
    assert.ok(me.ok && me.user.username === 'admin');
    assert.deepEqual(await apiFor(session, lab.sites[0]!.httpsPort, 'Wrong-Pass-1').currentUser(), { ok: false, reason: 'unauthorized' });
    const project = await api.ensureProject('kk-probe');
    assert.equal(project.created, true);
    assert.equal(project.project.metadata.public, 'false');
    assert.equal((await api.ensureProject('kk-probe')).created, false, '409 read as "exists"');
    const all = await api.listAll<{ name: string }>('/api/v2.0/projects', { q: 'name=kk-probe' });
    assert.deepEqual(all.map((p) => p.name), ['kk-probe'], 'query parameters encoded');
    assert.ok(session.commands.length > 0);
    for (const c of session.commands) assert.equal(c, 'curl -K -', 'nothing but the fixed words on the command line');
    assert.ok(session.stdins.every((s) => /^cacert = /m.test(s) && !/^insecure/m.test(s)), 'TLS verified with the CA, never -k');
    assert.ok(session.stdins.some((s) => s.includes(PASSWORD)), 'the credential travels on stdin');
  });

  it('a CA that did not sign the certificate is a non-retryable failure; a closed port a retryable one', async () => {
    const otherCa = path.join(dir, 'other-ca.crt');
    const { ensureRegistryPki } = await import('../pki');
    fs.writeFileSync(otherCa, (await ensureRegistryPki(path.join(dir, 'other'), ['localhost'])).caCert);
    await assert.rejects(apiFor(new RecordingSession(), lab.sites[0]!.httpsPort, PASSWORD, otherCa).health(), (e: unknown) => isHostFailure(e, 'CommandFailed') && !/Transport-Pass/.test(String(e)));
    await assert.rejects(apiFor(new RecordingSession(), await freePort()).health(), (e: unknown) => isHostFailure(e, 'NotReady'));
  });

  it('curl config quotes hostile values; output with an interim 100 answer parses to the final one', () => {
    const cfg = curlConfig({ caPath: '/ca "x".crt', username: 'admin', password: 'p"a\\ss\nword' }, 'https://h/x', { method: 'POST', path: '/x', body: { a: 'b"c' } });
    assert.match(cfg, /^user = "admin:p\\"a\\\\ss\\nword"$/m);
    assert.match(cfg, /^cacert = "\/ca \\"x\\".crt"$/m);
    assert.match(cfg, /^data-raw = "\{\\"a\\":\\"b\\\\\\"c\\"\}"$/m);
    const parsed = parseCurlOutput('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nLocation: /api/v2.0/registries/7\r\n\r\n\n@@kk-curl-status 201');
    assert.deepEqual(parsed, { status: 201, headers: { location: '/api/v2.0/registries/7' }, body: '' });
  });

  it('the mesh between two nodes, end to end: robot on the peer, endpoint and policy, backfill awaited by counts, idempotent re-plan, removal', async () => {
    const [a, b] = lab.sites as [StandinLab['sites'][0], StandinLab['sites'][0]];
    const onA = apiFor(new LocalSession(target), a.httpsPort);
    const onB = apiFor(new LocalSession(target), b.httpsPort);
    const robot = await onB.createRobot(replicationRobotSpec());
    assert.equal(robot.name, 'robot$kk-replicator');
    // The install keeps its own generated secret: set it, and the peer is then written with it.
    const secret = 'Kk-Mesh-Secret-42';
    assert.equal(await onB.refreshRobotSecret(robot.id, secret), secret);
    const peers: MeshPeer[] = [{ name: 'b', url: b.api, accessKey: robot.name, accessSecret: secret }];

    await onA.ensureProject('app');
    await pushImage(lab.agent, a.api, { user: 'admin', password: PASSWORD }, 'app/before', 'v1', `present before the mesh ${Date.now()}`);
    const plan = planMesh(peers, await readMeshState(onA));
    assert.deepEqual(plan.actions.map((x) => x.kind), ['createRegistry', 'createPolicy']);
    const applied = await applyMeshPlan(onA, plan, peers);
    const policyId = applied[1]!.id;
    assert.deepEqual(planMesh(peers, await readMeshState(onA)).actions, [], 'a re-plan finds nothing to do');

    // Status lags 30 s in this stand-in: waiting on it would time out; the counts finish it.
    const exec = await onA.startExecution(policyId);
    const outcome = await onA.awaitExecution(exec, { timeoutMs: 20_000, intervalMs: 300 });
    assert.equal(outcome.ok, true);
    assert.equal(outcome.execution.status, 'InProgress', 'done by the counts while the status lags');
    assert.ok(await onB.getArtifact('app/before', 'v1'), 'the image present before the mesh reached B');

    const removal = planMesh([], await readMeshState(onA));
    assert.deepEqual(removal.actions.map((x) => x.kind), ['deletePolicy', 'deleteRegistry']);
    await applyMeshPlan(onA, removal, []);
    const left = await readMeshState(onA);
    assert.deepEqual([left.registries.length, left.policies.length], [0, 0]);
  });

  it("a peer's endpoint is written once the peer answers Harbor's ping; a peer that never does is named with its last answer", async () => {
    const [a, b] = lab.sites as [StandinLab['sites'][0], StandinLab['sites'][0]];
    const onA = apiFor(new LocalSession(target), a.httpsPort);
    const peer: MeshPeer = { name: 'b', url: b.api, accessKey: 'admin', accessSecret: PASSWORD };
    await b.stopCore();
    const back = new Promise((r) => setTimeout(r, 3000)).then(() => b.startCore());
    const started = Date.now();
    try {
      const applied = await applyMeshPlan(onA, planMesh([peer], await readMeshState(onA)), [peer], { peerWait: { timeoutMs: 30_000, intervalMs: 500 } });
      assert.deepEqual(applied.map((x) => x.action.kind), ['createRegistry', 'createPolicy']);
      assert.ok(Date.now() - started >= 2500, 'waited for the peer');
    } finally {
      await back;
    }
    await applyMeshPlan(onA, planMesh([], await readMeshState(onA)), []);

    const never: MeshPeer = { name: 'gone', url: `https://127.0.0.1:${await freePort()}`, accessKey: 'admin', accessSecret: PASSWORD };
    await assert.rejects(
      applyMeshPlan(onA, planMesh([never], await readMeshState(onA)), [never], { peerWait: { timeoutMs: 2000, intervalMs: 500 } }),
      (e: unknown) => e instanceof PeerNotReadyError && e.peer === 'gone' && /peer gone \(https:\/\/127\.0\.0\.1:\d+\) did not answer .* within 2s; last answer: POST \/api\/v2\.0\/registries\/ping: 500/.test(e.message) && !e.message.includes(PASSWORD),
    );
    assert.deepEqual((await readMeshState(onA)).registries, [], 'nothing written for a peer that never answered');
  });

  it('the wait for a peer ends at once on what waiting cannot fix: TLS to this node, another API answer, a URL Harbor refuses', async () => {
    const [a, b] = lab.sites as [StandinLab['sites'][0], StandinLab['sites'][0]];
    const peer: MeshPeer = { name: 'b', url: b.api, accessKey: 'admin', accessSecret: PASSWORD };
    const wait = { peerWait: { timeoutMs: 60_000, intervalMs: 500 } };
    const otherCa = path.join(dir, 'other-ca.crt');
    fs.writeFileSync(otherCa, (await ensureRegistryPki(path.join(dir, 'other'), ['127.0.0.1'])).caCert);
    const started = Date.now();
    // This node's Harbor serves a certificate the CA does not sign (curl exit 60): non-retryable, thrown as is.
    await assert.rejects(applyMeshPlan(apiFor(new LocalSession(target), a.httpsPort, PASSWORD, otherCa), planMesh([peer], { registries: [], policies: [] }), [peer], wait), (e: unknown) => isHostFailure(e, 'CommandFailed') && !(e instanceof PeerNotReadyError));
    // The admin login fails (401): not the ping's answer, thrown as is.
    await assert.rejects(applyMeshPlan(apiFor(new LocalSession(target), a.httpsPort, 'Wrong-Pass-1'), planMesh([peer], { registries: [], policies: [] }), [peer], wait), (e: unknown) => isHarborApiError(e, 401));
    // A URL Harbor refuses (400, not "unhealthy"): named, not waited for.
    const empty: MeshPeer = { ...peer, url: '' };
    const onA = apiFor(new LocalSession(target), a.httpsPort);
    await assert.rejects(applyMeshPlan(onA, planMesh([empty], await readMeshState(onA)), [empty], wait), (e: unknown) => e instanceof PeerRefusedError && /type or url cannot be empty/.test(e.message));
    assert.ok(Date.now() - started < 20_000, `thrown at once, not after the 60s wait (${Date.now() - started} ms)`);
    assert.deepEqual((await readMeshState(onA)).registries, []);
  });
});
