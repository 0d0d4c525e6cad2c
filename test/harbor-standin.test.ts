import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../runtime/dev-server';
import { eventually, pushImage, request, startStandins, type StandinLab } from './support/harbor-standin';

/**
 * The lab's Harbor stand-in, on loopback: two stand-ins, each in front of a real distribution registry, TLS verified
 * with kk's own CA. Harbor v2.10's semantics for what an installer calls, and replication that really copies images.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-harbor-'));
const PASSWORD = 'Standin-Test-1';
const LAG_SECONDS = 2;
let lab: StandinLab;
const admin = { user: 'admin', password: PASSWORD };
const MANIFEST = { accept: 'application/vnd.oci.image.manifest.v1+json' };

const req = (url: string, init: Parameters<typeof request>[2] = {}) => request(lab.agent, url, { ...admin, ...init });

before(async () => {
  lab = await startStandins(dir, ['a', 'b'], { password: PASSWORD, statusRefreshSeconds: LAG_SECONDS });
});

after(() => lab.stop());

describe('Harbor stand-in', () => {
  it('health and systeminfo answer over TLS verified with the CA', async () => {
    const health = await req(`${lab.sites[0]!.api}/api/v2.0/health`, { user: null });
    assert.equal(health.status, 200);
    const h = JSON.parse(health.text) as { status: string; components: { name: string; status: string }[] };
    assert.equal(h.status, 'healthy');
    assert.deepEqual(h.components.map((c) => c.name), ['core', 'database', 'jobservice', 'portal', 'redis', 'registry', 'registryctl']);
    const info = JSON.parse((await req(`${lab.sites[0]!.api}/api/v2.0/systeminfo`, { user: null })).text) as { harbor_version: string };
    assert.match(info.harbor_version, /^v2\.10\.1/);
  });

  it('health turns unhealthy (still 200) when the registry stops, naming it', async () => {
    const b = lab.sites[1]!;
    await b.stopRegistry();
    try {
      const health = await req(`${b.api}/api/v2.0/health`, { user: null });
      assert.equal(health.status, 200);
      const h = JSON.parse(health.text) as { status: string; components: { name: string; status: string; error?: string }[] };
      assert.equal(h.status, 'unhealthy');
      assert.match(h.components.find((c) => c.name === 'registry')!.error ?? '', /connection refused/);
    } finally {
      await b.startRegistry();
    }
  });

  it('a wrong password is anonymous: /projects answers 200 with public projects, /users/current 401; projects: 201, 409, pages', async () => {
    const base = lab.sites[0]!.api;
    assert.equal((await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk' }, user: null })).status, 401);
    assert.equal((await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk' }, password: 'wrong' })).status, 401);
    assert.equal((await req(`${base}/api/v2.0/users/current`, { password: 'wrong' })).status, 401);
    const me = await req(`${base}/api/v2.0/users/current`);
    assert.equal(me.status, 200);
    assert.equal((JSON.parse(me.text) as { username: string }).username, 'admin');
    const created = await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk', metadata: { public: 'false' } } });
    assert.equal(created.status, 201);
    assert.match(String(created.headers.location), /^\/api\/v2\.0\/projects\/\d+$/);
    const dup = await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk' } });
    assert.equal(dup.status, 409);
    assert.equal((JSON.parse(dup.text) as { errors: { code: string }[] }).errors[0]!.code, 'CONFLICT');
    const page = await req(`${base}/api/v2.0/projects?page=2&page_size=1`);
    assert.equal(page.headers['x-total-count'], '2');
    assert.match(String(page.headers.link), /rel="prev"/);
    assert.equal((JSON.parse(page.text) as unknown[]).length, 1);
    const anon = await req(`${base}/api/v2.0/projects`, { password: 'wrong' });
    assert.equal(anon.status, 200);
    assert.deepEqual((JSON.parse(anon.text) as { name: string }[]).map((p) => p.name), ['library'], 'only the public project');
  });

  it('robots: system robot with a secret, 409 on a duplicate, refresh; robot$name logs into /v2/ within its permissions', async () => {
    const base = lab.sites[1]!.api;
    const spec = { name: 'pullonly', description: 't', level: 'system', disable: false, duration: -1, permissions: [{ kind: 'project', namespace: '*', access: [{ resource: 'repository', action: 'pull' }] }] };
    assert.equal((await req(`${base}/api/v2.0/robots`, { method: 'POST', body: { ...spec, permissions: [] } })).status, 400);
    const created = await req(`${base}/api/v2.0/robots`, { method: 'POST', body: spec });
    assert.equal(created.status, 201, created.text);
    const robot = JSON.parse(created.text) as { id: number; name: string; secret: string };
    assert.equal(robot.name, 'robot$pullonly');
    assert.equal((await req(`${base}/api/v2.0/robots`, { method: 'POST', body: spec })).status, 409);
    const asRobot = { user: robot.name, password: robot.secret };
    assert.equal((await req(`${base}/v2/`, asRobot)).status, 200);
    assert.equal((await req(`${base}/api/v2.0/users/current`, asRobot)).status, 412);
    assert.equal((await req(`${base}/api/v2.0/registries`, asRobot)).status, 403);
    assert.equal((await req(`${base}/v2/library/x/blobs/uploads/`, { method: 'POST', ...asRobot })).status, 401, 'pull-only robot cannot push');
    const refreshed = await req(`${base}/api/v2.0/robots/${robot.id}`, { method: 'PATCH', body: { secret: 'NewSecret123' } });
    assert.equal(refreshed.status, 200);
    assert.equal((await req(`${base}/v2/`, asRobot)).status, 401, 'the old secret no longer works');
    assert.equal((await req(`${base}/v2/`, { user: robot.name, password: 'NewSecret123' })).status, 200);
  });

  it('registries: dead URL 500, refused credential 400, 409 on a duplicate name, ping with flat fields, secrets hidden', async () => {
    const base = lab.sites[0]!.api;
    const peer = { name: 'peer-b', type: 'harbor', url: lab.sites[1]!.api, insecure: false, credential: { type: 'basic', access_key: 'admin', access_secret: PASSWORD } };
    const created = await req(`${base}/api/v2.0/registries`, { method: 'POST', body: peer });
    assert.equal(created.status, 201, created.text);
    assert.equal((await req(`${base}/api/v2.0/registries`, { method: 'POST', body: peer })).status, 409);
    const closed = await req(`${base}/api/v2.0/registries`, { method: 'POST', body: { ...peer, name: 'gone', url: `https://127.0.0.1:${await freePort()}` } });
    assert.equal(closed.status, 500, 'a Harbor peer that does not answer is a 500, as real Harbor');
    const badCred = await req(`${base}/api/v2.0/registries`, { method: 'POST', body: { ...peer, name: 'badcred', credential: { type: 'basic', access_key: 'admin', access_secret: 'nope' } } });
    assert.equal(badCred.status, 400);
    assert.match(badCred.text, /the registry is unhealthy/);
    const id = Number(String(created.headers.location).split('/').pop());
    assert.equal((await req(`${base}/api/v2.0/registries/ping`, { method: 'POST', body: { id } })).status, 200);
    assert.equal((await req(`${base}/api/v2.0/registries/ping`, { method: 'POST', body: { id, access_secret: 'nope' } })).status, 400);
    assert.equal((await req(`${base}/api/v2.0/registries/ping`, { method: 'POST', body: { type: 'harbor', url: lab.sites[1]!.api, credential_type: 'basic', access_key: 'admin', access_secret: 'nope' } })).status, 400);
    const listed = JSON.parse((await req(`${base}/api/v2.0/registries`)).text) as { credential: { access_secret: string } }[];
    assert.equal(listed[0]!.credential.access_secret, '*****', 'secrets are not returned');
  });

  it('replication with a robot: event-based copies (creating the project), deletions replicate only with delete rights, status lags the tasks', async () => {
    const [a, b] = lab.sites as [StandinLab['sites'][0], StandinLab['sites'][0]];
    const makeRobot = async (name: string, actions: string[]) =>
      JSON.parse((await req(`${b.api}/api/v2.0/robots`, { method: 'POST', body: { name, description: '', level: 'system', disable: false, duration: -1, permissions: [{ kind: 'project', namespace: '*', access: actions.map((action) => ({ resource: 'repository', action })) }] } })).text) as { name: string; secret: string };
    const weak = await makeRobot('repl-weak', ['push', 'pull']);
    const reg = await req(`${a.api}/api/v2.0/registries`, { method: 'POST', body: { name: 'b-robot', type: 'harbor', url: b.api, insecure: false, credential: { type: 'basic', access_key: weak.name, access_secret: weak.secret } } });
    assert.equal(reg.status, 201, reg.text);
    const regId = Number(String(reg.headers.location).split('/').pop());
    const policy = { name: 'a_to_b', dest_registry: { id: regId }, trigger: { type: 'event_based' }, enabled: true, override: true, deletion: true };
    assert.equal((await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: { ...policy, src_registry: { id: regId } } })).status, 400);
    assert.equal((await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: { ...policy, dest_registry: undefined } })).status, 400);
    const created = await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: policy });
    assert.equal(created.status, 201, created.text);
    assert.equal((await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: policy })).status, 409);
    const policyId = Number(String(created.headers.location).split('/').pop());

    // /v2/ wants credentials, and only existing projects take pushes.
    const anon = await req(`${a.api}/v2/`, { user: null });
    assert.equal(anon.status, 401);
    assert.match(String(anon.headers['www-authenticate']), /^Basic /);
    assert.equal((await req(`${a.api}/v2/nosuch/app/blobs/uploads/`, { method: 'POST' })).status, 404);

    // "onlya" exists only on A and is private: replication creates it on B, private.
    assert.equal((await req(`${a.api}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'onlya', metadata: { public: 'false' } } })).status, 201);
    const digest = await pushImage(lab.agent, a.api, admin, 'onlya/app', 'v1', `event ${Date.now()}`);
    assert.ok(await eventually(async () => (await req(`${b.api}/v2/onlya/app/manifests/v1`, { headers: MANIFEST })).status === 200), 'the push was replicated by the event-based policy');
    const onB = await req(`${b.api}/v2/onlya/app/manifests/v1`, { method: 'HEAD', headers: MANIFEST });
    assert.equal(onB.headers['docker-content-digest'], digest);
    const projB = JSON.parse((await req(`${b.api}/api/v2.0/projects/onlya`)).text) as { metadata: { public: string } };
    assert.equal(projB.metadata.public, 'false');

    // The execution's counts finish first; its status follows after the refresh lag.
    const [latest] = JSON.parse((await req(`${a.api}/api/v2.0/replication/executions?policy_id=${policyId}&page=1&page_size=1`)).text) as { id: number; succeed: number; status: string }[];
    let exec = latest!;
    assert.ok(await eventually(async () => ((exec = JSON.parse((await req(`${a.api}/api/v2.0/replication/executions/${latest!.id}`)).text)), exec.succeed === 1)));
    assert.equal(exec.status, 'InProgress', 'status lags the task counts, as in real Harbor');
    assert.ok(await eventually(async () => (JSON.parse((await req(`${a.api}/api/v2.0/replication/executions/${latest!.id}`)).text) as { status: string }).status === 'Succeed', (LAG_SECONDS + 5) * 1000));

    // Deleting with a push/pull robot fails on B with 401, and the task log says why.
    assert.equal((await req(`${a.api}/api/v2.0/projects/onlya/repositories/app/artifacts/v1`, { method: 'DELETE' })).status, 200);
    let failedExec: { id: number; failed: number } | undefined;
    assert.ok(await eventually(async () => {
      const [e] = JSON.parse((await req(`${a.api}/api/v2.0/replication/executions?policy_id=${policyId}&page=1&page_size=1`)).text) as { id: number; failed: number }[];
      failedExec = e;
      return e!.failed === 1;
    }));
    const tasks = JSON.parse((await req(`${a.api}/api/v2.0/replication/executions/${failedExec!.id}/tasks`)).text) as { id: number; operation: string; status: string }[];
    assert.equal(tasks[0]!.operation, 'deletion');
    assert.equal(tasks[0]!.status, 'Failed');
    assert.equal((await req(`${a.api}/api/v2.0/replication/executions/${failedExec!.id}/tasks/${tasks[0]!.id}/log`, { headers: { accept: 'application/json' } })).status, 422);
    const log = await req(`${a.api}/api/v2.0/replication/executions/${failedExec!.id}/tasks/${tasks[0]!.id}/log`);
    assert.match(log.text, /http status code: 401.*action: delete/);
    assert.equal((await req(`${b.api}/v2/onlya/app/manifests/v1`, { headers: MANIFEST })).status, 200, 'still on B');

    // With delete rights, an artifact deleted on A disappears on B.
    const strong = await makeRobot('repl-strong', ['push', 'pull', 'delete']);
    assert.equal((await req(`${a.api}/api/v2.0/registries/${regId}`, { method: 'PUT', body: { credential_type: 'basic', access_key: strong.name, access_secret: strong.secret } })).status, 200);
    await pushImage(lab.agent, a.api, admin, 'onlya/app', 'v2', `second ${Date.now()}`);
    assert.ok(await eventually(async () => (await req(`${b.api}/v2/onlya/app/manifests/v2`, { headers: MANIFEST })).status === 200));
    assert.equal((await req(`${a.api}/api/v2.0/projects/onlya/repositories/app/artifacts/v2`, { method: 'DELETE' })).status, 200);
    assert.ok(await eventually(async () => (await req(`${b.api}/v2/onlya/app/manifests/v2`, { headers: MANIFEST })).status === 404), 'the deletion was replicated');

    // A manual execution backfills what is already there.
    await pushImage(lab.agent, a.api, admin, 'kk/backfill', 'v1', `manual ${Date.now()}`);
    const start = await req(`${a.api}/api/v2.0/replication/executions`, { method: 'POST', body: { policy_id: policyId } });
    assert.equal(start.status, 201);
    assert.ok(await eventually(async () => (await req(`${b.api}/v2/kk/backfill/manifests/v1`, { headers: MANIFEST })).status === 200));

    // Executions filter by trigger (and status) with plain query parameters, as Harbor v2.10's do.
    const list = async (query: string) => JSON.parse((await req(`${a.api}/api/v2.0/replication/executions?policy_id=${policyId}&${query}`)).text) as { trigger: string; status: string }[];
    assert.deepEqual((await list('trigger=manual')).map((e) => e.trigger), ['manual']);
    const events = await list('trigger=event_based');
    assert.ok(events.length >= 3 && events.every((e) => e.trigger === 'event_based'), JSON.stringify(events));
    assert.ok(await eventually(async () => (await list('status=Failed')).length >= 1, (LAG_SECONDS + 5) * 1000), 'the deletion without delete rights, once its status caught up');
    assert.ok((await list('status=Failed')).every((e) => e.status === 'Failed'));
  });

  it('the admin password changes through the API only (wrong old 403, weak or same 400); a restart does not reapply harbor_admin_password', async () => {
    const b = lab.sites[1]!.api;
    assert.equal((await req(`${b}/api/v2.0/users/1/password`, { method: 'PUT', body: { old_password: 'Wrong-Old-1', new_password: 'Changed-Pass-2' } })).status, 403);
    assert.equal((await req(`${b}/api/v2.0/users/1/password`, { method: 'PUT', body: { old_password: PASSWORD, new_password: 'weak' } })).status, 400);
    assert.equal((await req(`${b}/api/v2.0/users/1/password`, { method: 'PUT', body: { old_password: PASSWORD, new_password: PASSWORD } })).status, 400);
    assert.equal((await req(`${b}/api/v2.0/users/1/password`, { method: 'PUT', body: { old_password: PASSWORD, new_password: 'Changed-Pass-2' } })).status, 200);
    assert.equal((await req(`${b}/api/v2.0/users/current`)).status, 401, 'the old password is refused');
    assert.equal((await req(`${b}/api/v2.0/users/current`, { password: 'Changed-Pass-2' })).status, 200);
    // Harbor reads harbor_admin_password on its first start only: a restart with the initial one in its config
    // changes nothing.
    await lab.sites[1]!.restartCore(PASSWORD);
    assert.equal((await req(`${b}/api/v2.0/users/current`)).status, 401, 'the configured (initial) password does not come back');
    assert.equal((await req(`${b}/api/v2.0/users/current`, { password: 'Changed-Pass-2' })).status, 200);
    assert.equal((await req(`${b}/api/v2.0/users/1/password`, { method: 'PUT', password: 'Changed-Pass-2', body: { old_password: 'Changed-Pass-2', new_password: PASSWORD } })).status, 200);
  });
});
