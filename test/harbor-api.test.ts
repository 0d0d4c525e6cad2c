import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { executionVerdict, HarborApi, HarborApiError, replicationRobotSpec, robotHasPermissions } from '../registry/harbor/api';
import { applyMeshPlan, credentialFingerprint, isKkOwned, meshPolicyName, meshPolicySpec, meshRegistryName, planMesh, type MeshPeer } from '../registry/harbor/mesh';
import type { HarborExecution, HarborPolicy, HarborRegistry, HarborRequest, HarborResponse } from '../registry/harbor/types';

/** The Harbor client against a stub transport fed with real Harbor v2.10.3's recorded answers; the mesh reconciler. */
// Recorded from two real Harbor v2.10.3 instances (A replicating to B); a copy of the project's reference set.
const RECORDINGS = path.join(__dirname, 'fixtures', 'harbor-api');

interface Recording {
  request: { method: string; path: string; query: string; body: unknown };
  response: { status: number; headers: Record<string, string>; body: unknown };
}

function recorded(file: string): HarborResponse {
  const r = (JSON.parse(fs.readFileSync(path.join(RECORDINGS, `${file}.json`), 'utf8')) as Recording).response;
  const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status: r.status, headers, body: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) };
}

/** Answers each request with the next recording queued for its method and path; keeps what was sent. */
/** A recorded execution list's first entry, served as GET /executions/{id} would answer it. */
function executionFrom(file: string): HarborResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(JSON.parse(recorded(file).body)[0]) };
}

function stub(routes: [string, ...(string | HarborResponse)[]][]) {
  const queues = new Map(routes.map(([key, ...answers]) => [key, answers.map((a) => (typeof a === 'string' ? recorded(a) : a))]));
  const sent: HarborRequest[] = [];
  const transport = async (req: HarborRequest) => {
    sent.push(req);
    const q = queues.get(`${req.method} ${req.path}`);
    const next = q?.length === 1 ? q[0] : q?.shift();
    if (!next) throw new Error(`no recording for ${req.method} ${req.path}`);
    return next;
  };
  return { api: new HarborApi(transport), sent };
}

describe('HarborApi against recorded answers', () => {
  it('health: 200 with status unhealthy is not healthy; every unhealthy component is named with its error', async () => {
    const ok = await stub([['GET /api/v2.0/health', 'health_healthy']]).api.health();
    assert.equal(ok.healthy, true);
    assert.equal(ok.components.length, 7);
    const bad = await stub([['GET /api/v2.0/health', 'health_unhealthy_jobservice_portal_registryctl_down']]).api.health();
    assert.equal(bad.healthy, false);
    assert.deepEqual(bad.unhealthy.map((u) => u.split(' ')[0]), ['jobservice', 'portal', 'registryctl']);
    assert.match(bad.unhealthy[0]!, /connection refused/);
  });

  it('login is checked on /users/current: admin ok, wrong password unauthorized, robot refused (412)', async () => {
    const ok = await stub([['GET /api/v2.0/users/current', 'users_current_admin']]).api.currentUser();
    assert.deepEqual(ok.ok && [ok.user.user_id, ok.user.username], [1, 'admin']);
    assert.deepEqual(await stub([['GET /api/v2.0/users/current', 'wrongpw_users_current']]).api.currentUser(), { ok: false, reason: 'unauthorized' });
    assert.deepEqual(await stub([['GET /api/v2.0/users/current', 'robot_users_current']]).api.currentUser(), { ok: false, reason: 'robot' });
  });

  it('ensureProject: 201 creates (private by default), 409 means it exists', async () => {
    const fresh = stub([['POST /api/v2.0/projects', 'projects_create_201'], ['GET /api/v2.0/projects/onlya', 'b_projects_get_onlya_created_by_replication']]);
    assert.equal((await fresh.api.ensureProject('onlya')).created, true);
    assert.deepEqual(fresh.sent[0]!.body, { project_name: 'onlya', metadata: { public: 'false' }, storage_limit: -1 });
    const again = stub([['POST /api/v2.0/projects', 'projects_create_dup_409'], ['GET /api/v2.0/projects/onlya', 'b_projects_get_onlya_created_by_replication']]);
    const r = await again.api.ensureProject('onlya');
    assert.equal(r.created, false);
    assert.equal(r.project.name, 'onlya');
    await assert.rejects(stub([['POST /api/v2.0/projects', 'projects_create_bad_name_400']]).api.ensureProject('Bad Name!'), (e: HarborApiError) => e.status === 400 && /lower case/.test(e.harborMessage));
  });

  it('lists follow page/page_size by X-Total-Count', async () => {
    const { api, sent } = stub([['GET /api/v2.0/projects', 'projects_page1_size1_two_projects', 'projects_page2_size1_two_projects']]);
    // page_size 100 asked; the stub's pages hold one each, so the client must keep going until X-Total-Count.
    const all = await api.listAll<{ name: string }>('/api/v2.0/projects');
    assert.deepEqual(all.map((p) => p.name), ['library', 'onlya']);
    assert.deepEqual(sent.map((s) => s.query?.page), [1, 2]);
  });

  it('registries: create reads the id from Location; 409, 400 (credential) and 500 (dead URL) are errors with Harbor codes', async () => {
    const spec = { name: 'harbor-b', url: 'http://127.0.0.1:28080', insecure: true, credential: { accessKey: 'robot$replicator', accessSecret: 's' } };
    const ok = stub([['POST /api/v2.0/registries', 'registries_create_201']]);
    assert.equal(await ok.api.createRegistry(spec), 1);
    assert.deepEqual((ok.sent[0]!.body as { credential: unknown }).credential, { type: 'basic', access_key: 'robot$replicator', access_secret: 's' }, 'nested on create');
    await assert.rejects(stub([['POST /api/v2.0/registries', 'registries_create_dup_name_409']]).api.createRegistry(spec), (e: HarborApiError) => e.status === 409 && e.code === 'CONFLICT');
    await assert.rejects(stub([['POST /api/v2.0/registries', 'registries_create_wrong_password']]).api.createRegistry(spec), (e: HarborApiError) => e.status === 400 && e.harborMessage === 'the registry is unhealthy');
    await assert.rejects(stub([['POST /api/v2.0/registries', 'registries_create_dead_url']]).api.createRegistry(spec), (e: HarborApiError) => e.status === 500 && e.code === 'UNKNOWN');
    await assert.rejects(stub([['DELETE /api/v2.0/registries/1', 'registries_delete_in_use']]).api.deleteRegistry(1), (e: HarborApiError) => e.status === 412);
    const listed = await stub([['GET /api/v2.0/registries', 'registries_list']]).api.listRegistries();
    assert.equal(listed[0]!.credential?.access_secret, '*****');
  });

  it('ping sends FLAT fields (a nested credential is ignored by Harbor) and tells a dead URL from a refused credential', async () => {
    const { api, sent } = stub([['POST /api/v2.0/registries/ping', 'registries_ping_by_url_200']]);
    assert.deepEqual(await api.pingRegistry({ name: 'b', url: 'http://127.0.0.1:28080', insecure: true, credential: { accessKey: 'robot$replicator', accessSecret: 'x' } }), { ok: true });
    assert.deepEqual(sent[0]!.body, { type: 'harbor', url: 'http://127.0.0.1:28080', insecure: true, credential_type: 'basic', access_key: 'robot$replicator', access_secret: 'x' });
    assert.equal(((await stub([['POST /api/v2.0/registries/ping', 'registries_ping_dead_url']]).api.pingRegistry({ id: 1 })) as { reason: string }).reason, 'unreachable');
    assert.equal(((await stub([['POST /api/v2.0/registries/ping', 'registries_ping_wrong_password']]).api.pingRegistry({ id: 1, access_secret: 'nope' })) as { reason: string }).reason, 'unhealthy');
    assert.equal(((await stub([['POST /api/v2.0/registries/ping', 'registries_ping_empty_400']]).api.pingRegistry({ id: 1 })) as { reason: string }).reason, 'invalid');
  });

  it('policies: the mesh policy is event-based, deletion and override on; PUT with the whole policy; 404 for a missing one', async () => {
    const { api, sent } = stub([['POST /api/v2.0/replication/policies', 'replication_policies_create_201'], ['PUT /api/v2.0/replication/policies/1', 'replication_policies_update_200']]);
    const spec = meshPolicySpec('node2', 1);
    assert.equal(await api.createPolicy(spec), 1);
    await api.updatePolicy(1, spec);
    const recordedBody = (JSON.parse(fs.readFileSync(path.join(RECORDINGS, 'replication_policies_create_201.json'), 'utf8')) as Recording).request.body as Record<string, unknown>;
    assert.deepEqual(Object.keys(sent[0]!.body as object).sort(), Object.keys(recordedBody).sort(), 'same fields as the recorded create');
    assert.equal(spec.trigger.type, 'event_based');
    assert.equal(spec.deletion && spec.override && spec.enabled, true);
    await assert.rejects(stub([['PUT /api/v2.0/replication/policies/99', 'replication_policies_update_missing_404']]).api.updatePolicy(99, spec), (e: HarborApiError) => e.status === 404);
    const [pol] = await stub([['GET /api/v2.0/replication/policies', 'replication_policies_list']]).api.listPolicies();
    assert.equal(pol!.dest_registry?.id, 1);
  });

  it('awaitExecution finishes by the task counts while the status still says InProgress (recorded polls)', async () => {
    const polls = ['replication_executions_list_poll_1', 'replication_executions_list_poll_2'].map(executionFrom);
    assert.equal(executionVerdict(JSON.parse(polls[0]!.body)), 'running');
    assert.equal(JSON.parse(polls[1]!.body).status, 'InProgress');
    const { api, sent } = stub([['GET /api/v2.0/replication/executions/4', ...polls]]);
    const slept: number[] = [];
    const outcome = await api.awaitExecution(4, { timeoutMs: 60_000, intervalMs: 2000, sleep: async (ms) => void slept.push(ms) });
    assert.equal(outcome.ok, true);
    assert.deepEqual(slept, [2000], 'one wait, then done by the counts');
    assert.equal(sent.length, 2);
  });

  it('backfilled: a succeeded manual execution is found by trigger=manual behind any number of event-based runs', async () => {
    // A recorded execution as the template; one manual (oldest) and 150 event-based runs after it, as Harbor lists
    // them: newest first, filtered by policy_id and trigger (plain query parameters in v2.10), paged by X-Total-Count.
    const template = JSON.parse(executionFrom('replication_executions_list_poll_2').body) as HarborExecution;
    const executions = (manualOk: boolean): HarborExecution[] =>
      Array.from({ length: 151 }, (_, i) => ({ ...template, id: i + 1, policy_id: 1, trigger: i === 0 ? 'manual' : 'event_based', total: 1, succeed: i === 0 && !manualOk ? 0 : 1, failed: i === 0 && !manualOk ? 1 : 0, in_progress: 0 }));
    const serve = (all: HarborExecution[], sent: HarborRequest[]) => async (req: HarborRequest): Promise<HarborResponse> => {
      sent.push(req);
      assert.equal(`${req.method} ${req.path}`, 'GET /api/v2.0/replication/executions');
      const q = req.query ?? {};
      const list = all.filter((e) => String(e.policy_id) === String(q.policy_id) && (q.trigger === undefined || e.trigger === q.trigger)).reverse();
      const size = Number(q.page_size ?? 10);
      const page = Number(q.page ?? 1);
      return { status: 200, headers: { 'x-total-count': String(list.length) }, body: JSON.stringify(list.slice((page - 1) * size, page * size)) };
    };
    const sent: HarborRequest[] = [];
    const api = new HarborApi(serve(executions(true), sent));
    assert.equal((await api.listExecutions(1, 100)).some((e) => e.trigger === 'manual'), false, 'the newest 100 are all event-based');
    sent.length = 0;
    assert.deepEqual(await api.backfill(1), { done: true });
    assert.deepEqual(sent.map((r) => [r.query?.policy_id, r.query?.trigger]), [[1, 'manual']]);
    assert.deepEqual(await new HarborApi(serve(executions(false), [])).backfill(1), { done: false }, 'a failed manual run is no backfill');
    // A manual execution still running (by its task counts, whatever its status says) is named, to be awaited.
    const running = executions(false);
    running[0] = { ...running[0]!, status: 'InProgress', succeed: 0, failed: 0, in_progress: 1 };
    assert.deepEqual(await new HarborApi(serve(running, [])).backfill(1), { done: false, running: 1 });
    running.push({ ...running[0]!, id: 152, status: 'Succeed', succeed: 1, in_progress: 0 });
    assert.deepEqual(await new HarborApi(serve(running, [])).backfill(1), { done: true }, 'a finished one decides, whatever else runs');
  });

  it('awaitExecution gives up at its deadline, naming the counts', async () => {
    let t = 0;
    const { api } = stub([['GET /api/v2.0/replication/executions/4', executionFrom('replication_executions_list_poll_1')]]);
    await assert.rejects(api.awaitExecution(4, { timeoutMs: 5000, intervalMs: 1000, now: () => t, sleep: async (ms) => void (t += ms) }), /still running after 5s: 0\/1 tasks succeeded, 1 in progress/);
  });

  it('awaitExecution reports a failed execution with its failed tasks and their logs (recorded deletion without delete rights)', async () => {
    const failedPoll = executionFrom('deletion_replication_poll_1');
    assert.equal(JSON.parse(failedPoll.body).status, 'InProgress');
    const { api, sent } = stub([
      ['GET /api/v2.0/replication/executions/7', failedPoll],
      ['GET /api/v2.0/replication/executions/7/tasks', 'replication_deletion_execution_tasks'],
      ['GET /api/v2.0/replication/executions/7/tasks/6/log', 'replication_deletion_execution_task_log'],
    ]);
    const outcome = await api.awaitExecution(7, { timeoutMs: 1000, sleep: async () => undefined });
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && /action: delete/.test(outcome.failedTasks[0]!.log));
    assert.equal(sent.find((s) => s.path.endsWith('/log'))!.accept, 'text', 'logs are asked for as text/plain (JSON gives 422)');
  });

  it('a start whose jobservice is down fails by its status with no task (status_text carries the reason)', async () => {
    const e = JSON.parse(recorded('replication_executions_after_start_jobservice_down').body)[0] as HarborExecution;
    assert.equal(executionVerdict(e), 'failed');
    assert.equal((await stub([['POST /api/v2.0/replication/executions', 'replication_executions_start_201']]).api.startExecution(1)), 4);
  });

  it('robots: created with its secret; 409 on a duplicate; the replication robot has push, pull and delete everywhere', async () => {
    const { api, sent } = stub([['POST /api/v2.0/robots', 'robots_create_system_with_delete_201']]);
    const robot = await api.createRobot(replicationRobotSpec());
    assert.equal(robot.name, 'robot$replicator2');
    assert.equal(robot.id, 3);
    assert.equal((sent[0]!.body as { level: string }).level, 'system');
    await assert.rejects(stub([['POST /api/v2.0/robots', 'robots_create_dup_409']]).api.createRobot(replicationRobotSpec()), (e: HarborApiError) => e.status === 409);
    const [listed] = await stub([['GET /api/v2.0/robots', 'b_robots_list']]).api.listRobots();
    assert.equal(robotHasPermissions(listed!, replicationRobotSpec().permissions), false, 'the recorded push/pull robot lacks delete');
    assert.equal(robotHasPermissions({ permissions: replicationRobotSpec().permissions }, replicationRobotSpec().permissions), true);
  });

  it('admin password change: 200; wrong old 403; weak or same 400', async () => {
    const { api, sent } = stub([['PUT /api/v2.0/users/1/password', 'users_password_change_200']]);
    await api.changePassword(1, 'Old-Pass-1', 'New-Pass-2');
    assert.deepEqual(sent[0]!.body, { old_password: 'Old-Pass-1', new_password: 'New-Pass-2' });
    await assert.rejects(stub([['PUT /api/v2.0/users/1/password', 'users_password_wrong_old']]).api.changePassword(1, 'x', 'New-Pass-2'), (e: HarborApiError) => e.status === 403);
    await assert.rejects(stub([['PUT /api/v2.0/users/1/password', 'users_password_weak_new']]).api.changePassword(1, 'x', 'weak'), (e: HarborApiError) => e.status === 400 && /8-128/.test(e.harborMessage));
  });
});

const peer = (name: string, extra: Partial<MeshPeer> = {}): MeshPeer => ({ name, url: `https://${name}:443`, accessKey: 'robot$kk-replicator', accessSecret: 'S3cret-x', ...extra });

function ownedRegistry(id: number, p: MeshPeer): HarborRegistry {
  return { id, name: meshRegistryName(p.name), url: p.url, type: 'harbor', insecure: false, description: `kk: replication target ${p.name} (credential ${credentialFingerprint(p)}) (managed by kk)`, credential: { type: 'basic', access_key: p.accessKey, access_secret: '*****' } };
}

function ownedPolicy(id: number, p: string, registryId: number): HarborPolicy {
  const spec = meshPolicySpec(p, registryId);
  return { id, name: spec.name, description: spec.description, dest_registry: { id: registryId } as HarborRegistry, src_registry: { id: 0 } as HarborRegistry, trigger: { type: 'event_based' }, filters: null, enabled: true, deletion: true, replicate_deletion: true, override: true };
}

describe('mesh reconciler', () => {
  it('from nothing: an endpoint then a policy per peer, policies referencing the endpoints created in the same plan', () => {
    const plan = planMesh([peer('node3'), peer('node2')], { registries: [], policies: [] });
    assert.deepEqual(plan.actions.map((a) => `${a.kind} ${a.name}`), ['createRegistry kk-peer-node2', 'createRegistry kk-peer-node3', 'createPolicy kk-push-to-node2', 'createPolicy kk-push-to-node3']);
    assert.deepEqual(plan.actions[2]!.kind === 'createPolicy' && plan.actions[2]!.registry, { peer: 'node2' });
  });

  it('converged: nothing to do (re-run creates and updates nothing)', () => {
    const p2 = peer('node2');
    const plan = planMesh([p2], { registries: [ownedRegistry(1, p2)], policies: [ownedPolicy(1, 'node2', 1)] });
    assert.deepEqual(plan, { actions: [], conflicts: [] });
  });

  it('drift is updated in place: URL, credential, a rotated secret, a disabled or non-deleting policy', () => {
    const p2 = peer('node2');
    const reg = { ...ownedRegistry(1, p2), url: 'https://old:443' };
    const pol = { ...ownedPolicy(5, 'node2', 1), enabled: false, deletion: false, replicate_deletion: false };
    const plan = planMesh([p2], { registries: [reg], policies: [pol] });
    assert.deepEqual(plan.actions.map((a) => [a.kind, 'drift' in a ? a.drift : []]), [['updateRegistry', ['url']], ['updatePolicy', ['deletion', 'enabled']]]);
  });

  it('the secret an endpoint holds is decided from its fingerprint (running state), not from what a run wrote', () => {
    const p2 = peer('node2');
    const written = ownedRegistry(1, p2);
    // Written with another secret (a run set the peer's robot secret and failed before rewriting this endpoint).
    const stale = ownedRegistry(1, { ...p2, accessSecret: 'an-older-secret' });
    const policies = [ownedPolicy(5, 'node2', 1)];
    assert.deepEqual(planMesh([p2], { registries: [stale], policies }).actions.map((a) => [a.kind, 'drift' in a && a.drift]), [['updateRegistry', ['secret']]]);
    assert.deepEqual(planMesh([p2], { registries: [written], policies }).actions, []);
    // Written before kk kept a fingerprint: the secret it holds is unknown, so it is rewritten once.
    const unmarked = { ...written, description: 'kk: replication target node2 (managed by kk)' };
    assert.deepEqual(planMesh([p2], { registries: [unmarked], policies }).actions.map((a) => [a.kind, 'drift' in a && a.drift]), [['updateRegistry', ['secret']]]);
    // Only the description's wording differs: the same secret, the description is set again.
    const reworded = { ...written, description: `kk: target node2 (credential ${credentialFingerprint(p2)}) (managed by kk)` };
    assert.deepEqual(planMesh([p2], { registries: [reworded], policies }).actions.map((a) => [a.kind, 'drift' in a && a.drift]), [['updateRegistry', ['description']]]);
    assert.notEqual(credentialFingerprint(p2), credentialFingerprint({ ...p2, accessSecret: 'an-older-secret' }));
    assert.doesNotMatch(written.description!, new RegExp(p2.accessSecret));
  });

  it('a peer no longer wanted: its policy is deleted before its endpoint (Harbor answers 412 otherwise)', () => {
    const p2 = peer('node2');
    const p3 = peer('node3');
    const plan = planMesh([p2], { registries: [ownedRegistry(1, p2), ownedRegistry(2, p3)], policies: [ownedPolicy(1, 'node2', 1), ownedPolicy(2, 'node3', 2)] });
    assert.deepEqual(plan.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['deletePolicy 2', 'deleteRegistry 2']);
  });

  it("never touches what kk did not create, even under a kk name, and keeps an endpoint a user's policy uses", () => {
    const p2 = peer('node2');
    const users: HarborRegistry = { id: 9, name: 'harbor-b', url: 'https://x', type: 'harbor', insecure: true, description: 'mine' };
    const impostor: HarborRegistry = { ...ownedRegistry(4, p2), description: 'made by hand' };
    const plan = planMesh([p2], { registries: [users, impostor], policies: [{ ...ownedPolicy(3, 'x', 9), name: 'users-policy', description: '' }] });
    assert.equal(plan.actions.length, 0);
    assert.match(plan.conflicts[0]!, /kk-peer-node2 exists but was not created by kk/);
    assert.ok(!isKkOwned(users) && !isKkOwned(impostor));
    const stale = ownedRegistry(7, peer('gone'));
    const kept = planMesh([], { registries: [stale], policies: [{ ...ownedPolicy(3, 'x', 7), name: 'users-policy', description: '' }] });
    assert.deepEqual(kept.actions, []);
    assert.match(kept.conflicts[0]!, /users-policy .* uses endpoint kk-peer-gone/);
  });

  it('a duplicate peer in the input plans once; policy and endpoint names are per peer', () => {
    const plan = planMesh([peer('node2'), peer('node2')], { registries: [], policies: [] });
    assert.equal(plan.actions.length, 2);
    assert.equal(meshPolicyName('node2'), 'kk-push-to-node2');
  });

  it('applying: the new endpoint id feeds its policy; a 409 on create is compared, not duplicated', async () => {
    const p2 = peer('node2');
    const calls: string[] = [];
    const existing = ownedRegistry(11, p2);
    const transport = async (req: HarborRequest): Promise<HarborResponse> => {
      calls.push(`${req.method} ${req.path}${req.body && typeof req.body === 'object' && 'dest_registry' in req.body ? ` dest=${(req.body as { dest_registry: { id: number } }).dest_registry.id}` : ''}`);
      if (req.method === 'POST' && req.path === '/api/v2.0/registries') return recorded('registries_create_dup_name_409');
      if (req.method === 'GET' && req.path === '/api/v2.0/registries') return { status: 200, headers: { 'x-total-count': '1' }, body: JSON.stringify([existing]) };
      if (req.method === 'POST' && req.path === '/api/v2.0/replication/policies') return { status: 201, headers: { location: '/api/v2.0/replication/policies/8' }, body: '' };
      throw new Error(`unexpected ${req.method} ${req.path}`);
    };
    const plan = planMesh([p2], { registries: [], policies: [] });
    const done = await applyMeshPlan(new HarborApi(transport), plan, [p2]);
    assert.deepEqual(done.map((d) => d.id), [11, 8]);
    assert.deepEqual(calls, ['POST /api/v2.0/registries', 'GET /api/v2.0/registries', 'POST /api/v2.0/replication/policies dest=11']);
  });
});
