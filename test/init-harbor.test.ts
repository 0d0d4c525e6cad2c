import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sh } from '../activities/ssh/quote';
import type { LabFile } from '../lab/lab-file';
import { credentialFingerprint } from '../registry/harbor/mesh';
import { HARBOR_DEFAULT_PASSWORDS } from '../registry/harbor/render';
import type { InitRegistryReport } from '../registry/types';
import { kk } from './support/kk';
import { auditCursor, auditSince, enableHostAudit, writtenTo } from './support/host-audit';
import { lab, labInventory, labUp, labVersion, onNode, resetNodes } from './support/lab';

/**
 * `kk init registry` with Harbor, the default type, on the lab's Harbor stand-in (real Harbor's installer layout and
 * API answers; see the README for where it differs): the seed's command on one node, then three nodes behind the VIP
 * with the replication mesh, re-runs, growing and shrinking the set, and a failing precheck.
 */
let labFile: LabFile;
let version: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-harbor-'));
const workdir = path.join(dir, 'work');

const inventory = (name: string, registryNodes: string[]) => labInventory(labFile, dir, name, registryNodes);

/** The seed's command: harbor_version, docker_version and dockercompose_version, nothing about the type. */
const seedArgs = (inv: string, ...sets: string[]) => ['-i', inv, '--workdir', workdir, '--set', labFile.set.harbor, '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`, ...sets.flatMap((s) => ['--set', s])];

async function init(inv: string, ...sets: string[]): Promise<InitRegistryReport> {
  const r = await kk(['init', 'registry', ...seedArgs(inv, ...sets), '--output', 'json']);
  assert.equal(r.code, 0, `kk init registry failed:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return JSON.parse(r.stdout) as InitRegistryReport;
}

const on = (node: string, cmd: string, stdin?: string) => onNode(labFile, node, cmd, stdin);

const adminPassword = () => fs.readFileSync(path.join(workdir, 'secrets', 'image_registry_admin_password'), 'utf8').trim();
const address = (node: string) => labFile.nodes.find((n) => n.name === node)!.address;

/** Harbor's API on a node, asked from the node itself with the CA and the admin login on curl's stdin. */
async function api(node: string, apiPath: string): Promise<{ status: number; body: unknown; total?: number }> {
  const out = await on(node, `curl -sS -K - --cacert /opt/harbor/${version}/ssl/ca.crt -D /dev/stderr -w '\\n%{http_code}' https://127.0.0.1${apiPath} 2>&1`, `user = "admin:${adminPassword()}"\n`);
  const lines = out.trimEnd().split('\n');
  const status = Number(lines.pop());
  const total = /x-total-count: *(\d+)/i.exec(out)?.[1];
  const body = lines.slice(lines.findIndex((l) => l.trim() === '') + 1).join('\n');
  return { status, body: body ? JSON.parse(body) : undefined, total: total ? Number(total) : undefined };
}

const names = async (node: string, what: 'registries' | 'replication/policies') => ((await api(node, `/api/v2.0/${what}?page_size=100`)).body as { name: string }[]).map((o) => o.name).sort();

/** A fresh image with a unique layer, pushed to `endpoint` from `node` (logged in with the admin password on stdin). */
async function pushUnique(node: string, endpoint: string, repo: string): Promise<string> {
  const tag = String(Date.now());
  const image = `${endpoint}/${repo}:${tag}`;
  await on(node, sh`docker login -u admin --password-stdin ${endpoint} >/dev/null`, adminPassword());
  await on(node, sh`d=$(mktemp -d) && date +%s%N > "$d/f" && tar -C "$d" -cf - f | docker import - ${image} >/dev/null && docker push ${image} >/dev/null && docker rmi ${image} >/dev/null`);
  return tag;
}

/** Waits until the artifact is in the node's own Harbor (replication is asynchronous). */
async function waitArtifact(node: string, repo: string, tag: string, seconds = 60): Promise<void> {
  const [project, ...rest] = repo.split('/');
  for (let i = 0; i < seconds / 2; i++) {
    if ((await api(node, `/api/v2.0/projects/${project}/repositories/${encodeURIComponent(rest.join('/'))}/artifacts/${tag}`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  assert.fail(`${repo}:${tag} did not reach ${node} within ${seconds}s`);
}

const NODES = ['node1', 'node2', 'node3'];
const started = (node: string, unit: string) => on(node, `systemctl show -p ActiveEnterTimestampMonotonic --value ${unit}`);

/** Which node holds the VIP (none while keepalived elects). */
async function vipHolder(): Promise<string | undefined> {
  for (const n of NODES) if ((await lab(['exec', n, '--', 'sh', '-c', `ip -o addr | grep -q ' inet ${labFile.vip}/' && echo yes`])).stdout.trim() === 'yes') return n;
  return undefined;
}

/** Every API object kk could create on a node: projects, endpoints, policies, robots. */
const apiObjects = (node: string) => Promise.all(['projects', 'registries', 'replication/policies', 'robots'].map(async (what) => (await api(node, `/api/v2.0/${what}?page_size=100`)).body));

/** kk's mesh objects on a node: endpoints, policies and its replication robot. */
async function kkObjects(node: string): Promise<string[]> {
  const robots = ((await api(node, '/api/v2.0/robots?page_size=100')).body as { name: string }[]).map((r) => r.name).filter((n) => n.includes('kk-'));
  return [...(await names(node, 'registries')), ...(await names(node, 'replication/policies')), ...robots].filter((n) => n.includes('kk-'));
}

before(async () => {
  labFile = await labUp(3);
  version = labVersion(labFile, 'harbor_version');
  await resetNodes(labFile);
});

after(async () => {
  await resetNodes(labFile);
  await kk(['server', 'stop', '--workdir', workdir]);
});

describe('kk init registry (Harbor)', () => {
  it('a failing precheck (a port held by another program on one node of three, HA) changes nothing on any host', async () => {
    const scan = "find / -xdev \\( -path /proc -o -path /sys -o -path /run -o -path /tmp -o -path /var/log -o -path /dev \\) -prune -o -newer /tmp/kk-harbor-marker -print";
    await lab(['exec', 'node2', '--', 'systemd-run', '--unit', 'kk-test-port', 'nc', '-lk', '443']);
    try {
      for (const n of NODES) await on(n, 'touch /tmp/kk-harbor-marker && sleep 1');
      const r = await kk(['init', 'registry', ...seedArgs(inventory('ha3', NODES), `image_registry.ha_vip=${labFile.vip}`)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /443 \(nc\) already in use/);
      assert.match(r.stderr, /precheck failed; nothing was changed on any host/);
      for (const n of NODES) assert.equal((await on(n, scan)).trim(), '', `${n}: files changed by a failed precheck`);
      assert.doesNotMatch((await on('node1', 'ls /opt /usr/local/bin /etc/systemd/system')), /harbor|dockerd|docker\.service|keepalived/);
    } finally {
      await lab(['exec', 'node2', '--', 'systemctl', 'stop', 'kk-test-port']);
    }
  });

  it('one node with the seed\'s command: installed, every component healthy, login/push/pull over TLS, no default password on the host', async () => {
    const report = await init(inventory('single', ['node1']));
    assert.equal(report.endpoint, address('node1'));
    const steps = report.nodes[0]!.steps;
    assert.deepEqual([steps['registry.upload'], steps['registry.extract'], steps['registry.service'], steps.health], ['uploaded', 'extracted', 'installed', 'healthy']);
    const health = (await api('node1', '/api/v2.0/health')).body as { status: string; components: { name: string; status: string }[] };
    assert.equal(health.status, 'healthy');
    assert.ok(health.components.length >= 7 && health.components.every((c) => c.status === 'healthy'), JSON.stringify(health));
    // The install's own verification pushed and pulled; a user's push and pull work the same way.
    await on('node1', `curl -sS -K - --cacert /opt/harbor/${version}/ssl/ca.crt -H 'Content-Type: application/json' -d '{"project_name":"lab"}' -o /dev/null https://127.0.0.1/api/v2.0/projects`, `user = "admin:${adminPassword()}"\n`);
    const tag = await pushUnique('node1', address('node1'), 'lab/app');
    await on('node1', sh`docker pull ${`${address('node1')}/lab/app:${tag}`} >/dev/null`);
    // harbor.yml: the generated passwords, 0600; no default password anywhere kk wrote (or in the extracted installer).
    const yml = await on('node1', `cat /opt/harbor/${version}/harbor/harbor.yml`);
    assert.match(yml, new RegExp(`^harbor_admin_password: ${adminPassword()}$`, 'm'));
    assert.match(yml, /^data_volume: \/var\/lib\/harbor\/data$/m);
    assert.match(yml, /^_version: /m, 'every key of the template kept');
    assert.equal((await on('node1', `stat -c %a /opt/harbor/${version}/harbor/harbor.yml`)).trim(), '600');
    // No default password on the host: in any file (binary ones too: the installer tarball is gone after extraction),
    // inside any tarball left under /opt/harbor (the images), or in any container's environment. The login user is
    // root, so /root covers its ~/.kk-staging.
    assert.equal((await on('node1', `ls /opt/harbor/${version}`)).split('\n').filter((f) => f.endsWith('.tgz')).length, 0, 'installer tarball removed');
    const tarballs = (await on('node1', `find /opt/harbor -name '*.tgz' -o -name '*.tar.gz'`)).trim().split('\n').filter(Boolean);
    assert.ok(tarballs.length > 0, 'the image tarball of the extracted installer is searched too');
    const containers = (await on('node1', 'docker ps -aq')).trim().split('\n').filter(Boolean);
    assert.ok(containers.length >= 2, `Harbor's containers: ${containers.join(' ')}`);
    assert.ok(containers.every((c) => /^[0-9a-f]+$/.test(c)));
    const env = await on('node1', `docker inspect --format '{{json .Config.Env}}' ${containers.join(' ')}`);
    for (const p of HARBOR_DEFAULT_PASSWORDS) {
      const files = await on('node1', sh`grep -rl -- ${p} /opt /etc /var/lib/kubekey /root /home /tmp /var/lib/harbor ~/.kk-staging 2>/dev/null || true`);
      assert.equal(files.trim(), '', `${p} found in: ${files}`);
      for (const t of tarballs) assert.equal((await on('node1', sh`tar -xzOf ${t} | grep -c -a -- ${p} || true`)).trim(), '0', `${p} inside ${t}`);
      assert.ok(!env.includes(p), `${p} in a container's environment`);
    }
    assert.equal((await on('node1', 'systemctl is-enabled harbor.service')).trim(), 'enabled');
    // Data survives docker compose down and a restart.
    await on('node1', `cd /opt/harbor/${version}/harbor && docker-compose -p harbor down >/dev/null 2>&1 && systemctl restart harbor.service`);
    for (let i = 0; i < 60 && (await api('node1', '/api/v2.0/health').catch(() => ({ status: 0 }))).status !== 200; i++) await new Promise((r) => setTimeout(r, 1000));
    await waitArtifact('node1', 'lab/app', tag);
  });

  it('re-running one node uploads, installs and restarts nothing, and creates no API object', async () => {
    const since = await started('node1', 'harbor.service');
    const objects = await apiObjects('node1');
    const report = await init(inventory('single', ['node1']));
    for (const [step, value] of Object.entries(report.nodes[0]!.steps)) if (step !== 'health') assert.equal(value, 'skipped', step);
    assert.equal(await started('node1', 'harbor.service'), since);
    assert.deepEqual(await apiObjects('node1'), objects, 'projects, endpoints, policies and robots unchanged');
  });

  it('a changed admin password goes through Harbor\'s API, and harbor.yml follows with prepare and one restart', async () => {
    const old = adminPassword();
    const changed = `${old.slice(0, 10)}Changed9`;
    const started = await on('node1', 'systemctl show -p ActiveEnterTimestampMonotonic --value harbor.service');
    const report = await init(inventory('single', ['node1']), `image_registry.auth.password=${changed}`);
    assert.equal(report.nodes[0]!.steps['registry.password'], 'changed');
    assert.equal(report.nodes[0]!.steps['registry.service'], 'restarted');
    assert.notEqual(await on('node1', 'systemctl show -p ActiveEnterTimestampMonotonic --value harbor.service'), started);
    const login = (password: string) => on('node1', `curl -sS -K - --cacert /opt/harbor/${version}/ssl/ca.crt -o /dev/null -w '%{http_code}' https://127.0.0.1/api/v2.0/users/current`, `user = "admin:${password}"\n`);
    assert.equal((await login(changed)).trim(), '200');
    assert.equal((await login(old)).trim(), '401');
    // And back, so the generated password (kept in the work dir) is Harbor's again for the tests that follow.
    assert.equal((await init(inventory('single', ['node1']))).nodes[0]!.steps['registry.password'], 'changed');
    assert.equal((await login(old)).trim(), '200');
  });

  it('a re-run with harbor.service stopped starts it (and waits for its health) before using its API; nothing uploaded', async () => {
    await on('node1', 'systemctl stop harbor.service');
    const report = await init(inventory('single', ['node1']));
    const steps = report.nodes[0]!.steps;
    assert.deepEqual([steps['registry.upload'], steps['registry.extract'], steps['registry.password'], steps['registry.service'], steps.health], ['skipped', 'skipped', 'skipped', 'started', 'healthy']);
    assert.equal((await on('node1', 'systemctl is-active harbor.service')).trim(), 'active');
  });

  it('two nodes behind the VIP: full mesh both ways, images held before are replicated to the new node', async () => {
    const tag = await pushUnique('node1', address('node1'), 'lab/before-ha');
    const report = await init(inventory('ha', ['node1', 'node2']), `image_registry.ha_vip=${labFile.vip}`);
    assert.equal(report.endpoint, labFile.vip);
    assert.deepEqual(report.verification.replicatedTo, ['node1', 'node2']);
    assert.deepEqual(await names('node1', 'registries'), ['kk-peer-node2']);
    assert.deepEqual(await names('node2', 'replication/policies'), ['kk-push-to-node1']);
    await waitArtifact('node2', 'lab/before-ha', tag);
    // Peers log in with the replication robot, not the admin.
    const registry = ((await api('node1', '/api/v2.0/registries')).body as { credential: { access_key: string } }[])[0]!;
    assert.equal(registry.credential.access_key, 'robot$kk-replicator');
  });

  it('growing to three nodes wires the third both ways, fills it, and takes new pushes from both others', async () => {
    const tag = await pushUnique('node2', address('node2'), 'lab/before-grow');
    await init(inventory('ha', NODES), `image_registry.ha_vip=${labFile.vip}`);
    for (const n of NODES) {
      const others = NODES.filter((o) => o !== n);
      assert.deepEqual(await names(n, 'registries'), others.map((o) => `kk-peer-${o}`), n);
      assert.deepEqual(await names(n, 'replication/policies'), others.map((o) => `kk-push-to-${o}`), n);
    }
    await waitArtifact('node3', 'lab/before-grow', tag);
    await waitArtifact('node3', 'lab/before-ha', (((await api('node1', '/api/v2.0/projects/lab/repositories/before-ha/artifacts')).body as { tags: { name: string }[] }[])[0]!.tags[0]!.name));
    // A push to any node reaches the other two (event-based): into the new node from both others, and out of it.
    const fresh = await Promise.all(NODES.map((n) => pushUnique(n, address(n), `lab/after-grow-from-${n}`)));
    await Promise.all(NODES.flatMap((from, i) => NODES.filter((n) => n !== from).map((n) => waitArtifact(n, `lab/after-grow-from-${from}`, fresh[i]!))));
  });

  it('re-running three nodes behind the VIP: no upload, no install, no restart, no new API object; this run\'s probe replicated by digest', async () => {
    const previous = await Promise.all(NODES.map(async (n) => ((await api(n, '/api/v2.0/projects/kk-verify/repositories/probe/artifacts/latest')).body as { digest: string }).digest));
    const before = await Promise.all(NODES.map(apiObjects));
    const units = ['harbor.service', 'kk-keepalived.service', 'docker.service'];
    const since = await Promise.all(NODES.map((n) => Promise.all(units.map((u) => started(n, u)))));
    await enableHostAudit(labFile, NODES);
    const cursors = await Promise.all(NODES.map((n) => auditCursor(labFile, n)));
    const report = await init(inventory('ha', NODES), `image_registry.ha_vip=${labFile.vip}`);
    for (const node of report.nodes) for (const [step, value] of Object.entries(node.steps)) if (step !== 'health') assert.equal(value, 'skipped', `${node.host} ${step}`);
    for (const [host, steps] of Object.entries(report.ha!.steps)) for (const [step, value] of Object.entries(steps)) assert.equal(value, 'skipped', `${host} keepalived ${step}`);
    for (const [host, r] of Object.entries(report.replication!)) assert.deepEqual([r.robot, r.mesh, r.backfill], ['skipped', [], []], host);
    const audits = await Promise.all(NODES.map((n, i) => auditSince(labFile, n, cursors[i]!)));
    for (const [i, audit] of audits.entries()) {
      assert.ok(audit.sessions > 0, `${NODES[i]}: sshd's journal shows the run's sessions`);
      assert.equal(writtenTo(audit, /./), 0, `${NODES[i]}: bytes uploaded by a re-run`);
    }
    assert.deepEqual(await Promise.all(NODES.map((n) => Promise.all(units.map((u) => started(n, u))))), since, 'no service restarted on any node');
    // The probe's tag is the same every run: replication is checked by this run's digest, on every node's own Harbor.
    assert.deepEqual(report.verification.replicatedTo, NODES);
    assert.match(report.verification.digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(!previous.includes(report.verification.digest), 'a new digest, not the previous run\'s probe');
    for (const n of NODES) assert.equal((await api(n, `/api/v2.0/projects/kk-verify/repositories/probe/artifacts/${report.verification.digest}`)).status, 200, n);
    const after = await Promise.all(NODES.map(apiObjects));
    // The probe project's own counters move with the probe; every other object is as it was.
    const withoutProbeCounts = (objects: unknown[][]) => JSON.parse(JSON.stringify(objects, (k, v) => (k === 'repo_count' || k === 'update_time' ? undefined : v)));
    assert.deepEqual(withoutProbeCounts(after), withoutProbeCounts(before), 'no API object created or changed');
  });

  it('the VIP fails over, keepalived tracking Harbor\'s health, and pulls through it still work', async () => {
    const kv = labVersion(labFile, 'keepalived_version');
    for (const n of NODES) assert.match(await on(n, `cat /opt/keepalived/${kv}/check-registry.sh`), /https:\/\/127\.0\.0\.1:443\/api\/v2\.0\/health/, n);
    const tag = await pushUnique('node1', labFile.vip, 'lab/failover');
    const holder = await vipHolder();
    assert.ok(holder, 'a node holds the VIP');
    const survivor = NODES.find((n) => n !== holder)!;
    // Each node has its own storage: the image must have been replicated before its holder goes away.
    await waitArtifact(survivor, 'lab/failover', tag);
    await on(survivor, sh`docker login -u admin --password-stdin ${labFile.vip} >/dev/null`, adminPassword());
    assert.equal((await lab(['fault', holder!, 'stop'])).code, 0);
    try {
      let moved: string | undefined;
      for (let i = 0; i < 40 && (!moved || moved === holder); i++) {
        moved = await vipHolder().catch(() => undefined);
        if (!moved || moved === holder) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(moved && moved !== holder, `the VIP moved from ${holder} (now ${moved})`);
      await on(survivor, sh`for i in $(seq 40); do docker pull ${`${labFile.vip}/lab/failover:${tag}`} >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1`);
    } finally {
      assert.equal((await lab(['fault', holder!, 'start'])).code, 0);
    }
  });

  it('shrinking back to two: the mesh is exactly the two nodes\', the leaver drops its own, and a robot secret changed behind kk\'s back is set again', async () => {
    for (const n of NODES) for (let i = 0; i < 60 && (await api(n, '/api/v2.0/health').catch(() => ({ status: 0 }))).status !== 200; i++) await new Promise((r) => setTimeout(r, 1000));
    // node2's robot gets another secret behind kk's back (Harbor hides secrets: node1's endpoint cannot show the drift).
    const robot = ((await api('node2', '/api/v2.0/robots?page_size=100')).body as { id: number; name: string }[]).find((r) => r.name === 'robot$kk-replicator')!;
    await on('node2', `curl -sS -f -K - --cacert /opt/harbor/${version}/ssl/ca.crt -X PATCH -H 'Content-Type: application/json' -d '{"secret":"Elsewhere9Secret"}' -o /dev/null https://127.0.0.1/api/v2.0/robots/${robot.id}`, `user = "admin:${adminPassword()}"\n`);
    const report = await init(inventory('ha', ['node1', 'node2']), `image_registry.ha_vip=${labFile.vip}`);
    for (const n of ['node1', 'node2']) {
      const peer = n === 'node1' ? 'node2' : 'node1';
      assert.deepEqual(await names(n, 'registries'), [`kk-peer-${peer}`], n);
      assert.deepEqual(await names(n, 'replication/policies'), [`kk-push-to-${peer}`], n);
    }
    assert.deepEqual(report.ha!.removed, ['node3']);
    assert.deepEqual(Object.keys(report.meshLeavers!.cleared), ['node3']);
    assert.equal(report.meshLeavers!.unreachable, undefined);
    assert.deepEqual(await kkObjects('node3'), [], 'node3 keeps no kk endpoint, policy or robot: it pushes into the others no more');
    // The secret kk keeps was set on node2 again; node1's endpoint to node2 holds that secret (its description's
    // fingerprint says so), so it needs no rewrite, and replication into node2 works with it.
    assert.equal(report.replication!.node2!.robot, 'secret set');
    const kept = fs.readFileSync(path.join(workdir, 'secrets', 'harbor_replication_secret'), 'utf8').trim();
    const endpoint = ((await api('node1', '/api/v2.0/registries?page_size=100')).body as { name: string; description: string }[]).find((r) => r.name === 'kk-peer-node2')!;
    assert.match(endpoint.description, new RegExp(`\\(credential ${credentialFingerprint({ accessKey: 'robot$kk-replicator', accessSecret: kept })}\\)`));
    const tag = await pushUnique('node1', address('node1'), 'lab/after-shrink');
    await waitArtifact('node2', 'lab/after-shrink', tag);
  });
});
