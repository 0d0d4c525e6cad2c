import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nfsCommands } from '../activities/install/registry';
import { ApplicationFailure } from '@temporalio/common';
import { mustRun } from '../activities/install/remote';
import { command, sh } from '../activities/ssh/quote';
import { variablesSchema } from '../config/variables';
import type { LabFile } from '../lab/lab-file';
import { registryConfig } from '../registry/render';
import type { InitRegistryReport } from '../registry/types';
import { kk } from './support/kk';
import { lab, labInventory, labSsh, labUp, labVersion, onNode, resetNodes } from './support/lab';
import { SUBNET_PREFIX } from '../lab/paths';
/** The lab's subnet, escaped for a regular expression. */
const NET = SUBNET_PREFIX.replace(/\./g, '\\.');

/** `kk init registry` with image_registry.type=docker-registry on the lab: one node, HA on S3, re-run, configs. */
let labFile: LabFile;
let reg: string;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-init-'));
const workdir = path.join(dir, 'work');

const inventory = (name: string, registryNodes: string[]) => labInventory(labFile, dir, name, registryNodes, { groups: { kube_control_plane: { hosts: ['node1'] } } });

const s3Set = () => {
  const s = labFile.s3!;
  return `image_registry.docker_registry.storage.s3=${JSON.stringify({ accesskey: s.accesskey, secretkey: s.secretkey, region: s.region, bucket: s.bucket, regionendpoint: s.endpoint })}`;
};

async function init(inv: string, ...sets: string[]): Promise<{ code: number | null; report: InitRegistryReport; stderr: string }> {
  const r = await kk(['init', 'registry', '-i', inv, '--workdir', workdir, '--output', 'json', '--set', labFile.set['docker-registry'], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`, ...sets.flatMap((s) => ['--set', s])]);
  assert.equal(r.code, 0, `kk init registry failed:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return { code: r.code, report: JSON.parse(r.stdout) as InitRegistryReport, stderr: r.stderr };
}

const on = (node: string, cmd: string, stdin?: string) => onNode(labFile, node, cmd, stdin);

/** The registry password kk generated (kept 0600 in the work dir), on docker login's stdin. */
async function login(node: string, endpoint: string): Promise<void> {
  const password = fs.readFileSync(path.join(workdir, 'secrets', 'image_registry_admin_password'), 'utf8').trim();
  const conn = await labSsh(labFile.nodes.find((n) => n.name === node)!);
  try {
    const r = await conn.exec(sh`docker login -u admin --password-stdin ${endpoint}`, { sudo: true, stdin: password, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${node}: docker login ${endpoint}\n${r.stderr}`);
  } finally {
    conn.close();
  }
}

/** A fresh image with a unique layer, pushed through `endpoint` from `node` (logged in: the registry requires it). */
async function pushUnique(node: string, endpoint: string, repo: string): Promise<string> {
  const image = `${endpoint}/${repo}:${Date.now()}`;
  await login(node, endpoint);
  await on(node, sh`d=$(mktemp -d) && date +%s%N > "$d/f" && tar -C "$d" -cf - f | docker import - ${image} >/dev/null && docker push ${image} >/dev/null && docker rmi ${image} >/dev/null`);
  return image;
}

async function pull(node: string, image: string): Promise<string> {
  await login(node, image.slice(0, image.indexOf('/')));
  return on(node, sh`docker pull ${image} >/dev/null && docker rmi ${image} >/dev/null && echo pulled`);
}

/** A shell loop until the local registry answers over TLS: 401 (it requires a login) means up. */
const registryUp = (seconds: number) =>
  `for i in $(seq ${seconds}); do [ "$(curl -sS --cacert /opt/docker-registry/${reg}/ssl/ca.crt -o /dev/null -w '%{http_code}' https://127.0.0.1/v2/)" = 401 ] && exit 0; sleep 1; done; exit 1`;

async function vipHolder(): Promise<string | undefined> {
  for (const n of labFile.nodes) {
    const r = await lab(['exec', n.name, '--', 'sh', '-c', `ip -o addr | grep -q ' inet ${labFile.vip}/' && echo yes`]);
    if (r.stdout.trim() === 'yes') return n.name;
  }
  return undefined;
}

/** Every node holding the VIP now (IPv4). */
async function vipHolders(): Promise<string[]> {
  const out: string[] = [];
  for (const n of labFile.nodes) if ((await lab(['exec', n.name, '--', 'sh', '-c', `ip -o addr | grep -q ' inet ${labFile.vip}/' && echo yes`])).stdout.trim() === 'yes') out.push(n.name);
  return out;
}

/** kk-keepalived.service's state on each node, `node1 active; node2 inactive; …`. */
async function keepalivedUnits(): Promise<string> {
  const states = await Promise.all(labFile.nodes.map(async (n) => `${n.name} ${(await lab(['exec', n.name, '--', 'sh', '-c', 'systemctl is-active kk-keepalived.service'])).stdout.trim()}`));
  return states.join('; ');
}

before(async () => {
  labFile = await labUp(3);
  reg = labVersion(labFile, 'docker_registry_version');
  // Fresh hosts: nothing installed by earlier tests or runs.
  await resetNodes(labFile);
});

after(async () => {
  // Leave fresh hosts and a free VIP behind.
  await resetNodes(labFile);
  await kk(['server', 'stop', '--workdir', workdir]);
});

describe('kk init registry (docker-registry)', () => {
  it('a failing precheck stops the install before any change on any host', async () => {
    const r = await kk(['init', 'registry', '-i', inventory('single', ['node1']), '--workdir', workdir, '--set', labFile.set['docker-registry'], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`, '--set', 'artifact.artifact_url.docker_registry.amd64=/nonexistent/registry.tgz']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /FAIL {2}artifact +docker_registry .*missing: \/nonexistent\/registry\.tgz/);
    assert.match(r.stderr, /precheck failed; nothing was changed on any host/);
    const docker = await lab(['exec', 'node1', '--', 'sh', '-c', 'ls /usr/local/bin /opt /etc/systemd/system']);
    assert.doesNotMatch(docker.stdout, /dockerd|docker-registry|containerd\.service/);
  });

  it('one node, filesystem storage: installs, push/pull with the CA, data survives a restart and a re-created container', async () => {
    const inv = inventory('single', ['node1']);
    const { report } = await init(inv);
    const node1 = labFile.nodes[0]!.address;
    assert.equal(report.endpoint, node1);
    assert.deepEqual(report.nodes.map((n) => [n.host, n.steps.docker, n.steps.compose, n.steps['registry.service'], n.steps.health]), [['node1', 'installed', 'installed', 'started', 'healthy']]);
    assert.deepEqual(report.verification.pulledOn, ['node1']);
    // TLS verified with the CA: the CA kk made, in certs.d, and curl with --cacert (not -k).
    const ca = fs.readFileSync(path.join(workdir, 'pki', 'root.crt'), 'utf8');
    assert.equal(await on('node1', `cat /etc/docker/certs.d/${node1}/ca.crt`), ca);
    // Authentication is required: anonymous is refused, the configured user gets in; deletes are off.
    // The user reaches curl on stdin (`-K -`), as kk passes credentials: never on a command line.
    const curl = (user: string | undefined, url: string) =>
      on('node1', `curl -sS -K - --cacert /etc/docker/certs.d/${node1}/ca.crt -o /dev/null -w '%{http_code}' ${url}`, user ? `user = "${user}"\n` : '\n');
    assert.equal((await curl(undefined, `https://${node1}/v2/`)).trim(), '401');
    const password = fs.readFileSync(path.join(workdir, 'secrets', 'image_registry_admin_password'), 'utf8').trim();
    assert.equal((await curl(`admin:${password}`, `https://${node1}/v2/`)).trim(), '200');
    assert.equal((await curl('admin:wrong', `https://${node1}/v2/`)).trim(), '401');
    assert.equal((await on('node1', `stat -c %a /opt/docker-registry/${reg}/auth/htpasswd`)).trim(), '600');
    // A wrong password, as kk's verification logs in (a transient step): refused at once as CommandFailed, not retried.
    const conn = await labSsh(labFile.nodes[0]!);
    try {
      await assert.rejects(mustRun(conn, command('docker', 'login', '--username', 'admin', '--password-stdin', node1), `logging in to ${node1}`, { stdin: 'wrong', transient: true, timeoutMs: 60_000 }), (err: ApplicationFailure) => {
        assert.deepEqual([err.type, err.nonRetryable], ['CommandFailed', true]);
        assert.match(err.message, /logging in to \S+ failed \(exit 1\): the registry refused the credentials \(HTTP 401\).*login attempt to .* failed with status: 401 Unauthorized/);
        return true;
      });
    } finally {
      conn.close();
    }
    assert.equal(fs.statSync(path.join(workdir, 'pki', 'image_registry.key')).mode & 0o777, 0o600);

    const image = await pushUnique('node1', node1, 'lab/persist');
    // Deletes are off: an authenticated DELETE of the manifest by its digest is refused with distribution's UNSUPPORTED.
    const manifest = `https://${node1}/v2/lab/persist/manifests/`;
    const asAdmin = (args: string) => on('node1', `curl -sS -K - --cacert /etc/docker/certs.d/${node1}/ca.crt ${args}`, `user = "admin:${password}"\n`);
    const head = await asAdmin(`-I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' ${manifest}${image.split(':').pop()}`);
    const digest = /^docker-content-digest:\s*(sha256:[0-9a-f]{64})/im.exec(head)?.[1];
    assert.ok(digest, head);
    const del = await asAdmin(`-X DELETE -w '\n%{http_code}' ${manifest}${digest}`);
    assert.match(del, /"code":"UNSUPPORTED"[\s\S]*\n405$/, del);
    await on('node1', 'systemctl restart docker-registry.service');
    await on('node1', `${registryUp(30)}`);
    assert.equal((await pull('node1', image)).trim(), 'pulled', 'after a service restart');
    await on('node1', `cd /opt/docker-registry/${reg} && docker-compose -p docker-registry -f docker-compose.yml down && systemctl restart docker-registry.service`);
    await on('node1', `${registryUp(30)}`);
    assert.equal((await pull('node1', image)).trim(), 'pulled', 'after docker-compose down and a new container');
    assert.match(await on('node1', 'ls /var/lib/docker-registry/data/docker/registry/v2/repositories/lab'), /persist/, 'the data lives on the host');
  });

  it('re-running on the installed node uploads nothing and restarts nothing', async () => {
    const { report } = await init(inventory('single', ['node1']));
    const steps = report.nodes[0]!.steps;
    for (const step of ['docker', 'compose', 'trust', 'registry.image', 'registry.config', 'registry.service']) assert.equal(steps[step], 'skipped', `${step}: ${steps[step]}`);
    const started = await on('node1', 'systemctl show -p ActiveEnterTimestampMonotonic --value docker-registry.service');
    await init(inventory('single', ['node1']));
    assert.equal(await on('node1', 'systemctl show -p ActiveEnterTimestampMonotonic --value docker-registry.service'), started, 'the service was not restarted');
  });

  it('three nodes, HA on the S3 store: push through the VIP, pull on each node, the VIP moves when its holder stops', async () => {
    const inv = inventory('ha', ['node1', 'node2', 'node3']);
    const { report } = await init(inv, `image_registry.ha_vip=${labFile.vip}`, s3Set());
    assert.equal(report.endpoint, labFile.vip);
    assert.equal(report.ha?.vipHolder, 'node1', 'the first registry host has the highest priority');
    assert.deepEqual(report.verification.pulledOn, ['node1', 'node2', 'node3']);
    const kv = labVersion(labFile, 'keepalived_version');
    const conf = await on('node2', `cat /opt/keepalived/${kv}/keepalived.conf`);
    assert.match(conf, new RegExp(`unicast_peer \\{\\n\\s+${NET}\\.11\\n\\s+${NET}\\.13\\n\\s+\\}`));
    assert.match(conf, /priority 140/);
    assert.doesNotMatch(conf, /virtual_router_id 31\b|k8s-test/);
    assert.match(conf, /script "\/etc\/keepalived\/kk-check-registry\.sh"/);
    assert.match(await on('node2', `stat -c '%U %a' /opt/keepalived/${kv}/check-registry.sh`), /^root 700/);
    assert.match(await on('node2', `cat /opt/keepalived/${kv}/check-registry.sh`), /https:\/\/127\.0\.0\.1:443\/v2\//);
    // osixia's contract: the config at the assets path, started with --copy-service.
    assert.match(await on('node2', 'docker inspect -f "{{json .Args}} {{range .Mounts}}{{.Destination}} {{end}}" kk-keepalived'), /--copy-service.*\/container\/service\/keepalived\/assets\/keepalived\.conf/);

    const image = await pushUnique('node2', labFile.vip, 'lab/ha');
    for (const n of ['node1', 'node2', 'node3']) assert.equal((await pull(n, image)).trim(), 'pulled', n);
    const holder = (await vipHolder())!;
    assert.equal((await lab(['fault', holder, 'stop'])).code, 0);
    let moved: string | undefined;
    for (let i = 0; i < 40 && (!moved || moved === holder); i++) {
      moved = await vipHolder();
      if (!moved) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(moved && moved !== holder, `the VIP moved from ${holder} (now ${moved})`);
    const survivor = ['node1', 'node2', 'node3'].find((n) => n !== holder && n !== moved) ?? moved;
    assert.equal((await pull(survivor, image)).trim(), 'pulled', 'a pull through the VIP works after failover');
    assert.equal((await lab(['fault', holder, 'start'])).code, 0);
    await on(holder, `${registryUp(60)}`);
  });

  it('re-running the HA install changes nothing but the keepalived restart an interrupted attempt owed', async () => {
    // node3's last attempt was killed after writing keepalived's files, before the restart: only the marker tells.
    await on('node3', 'mkdir -p /var/lib/kubekey/pending-restart && touch /var/lib/kubekey/pending-restart/kk-keepalived');
    const { report } = await init(inventory('ha', ['node1', 'node2', 'node3']), `image_registry.ha_vip=${labFile.vip}`, s3Set());
    for (const node of report.nodes) {
      for (const step of ['docker', 'compose', 'trust', 'registry.image', 'registry.config', 'registry.service']) assert.equal(node.steps[step], 'skipped', `${node.host} ${step}`);
    }
    const expected = (host: string) => ({ image: 'skipped', config: 'skipped', service: host === 'node3' ? 'restarted' : 'skipped' });
    for (const [host, steps] of Object.entries(report.ha!.steps)) assert.deepEqual(steps, expected(host), host);
    assert.equal((await on('node3', 'ls /var/lib/kubekey/pending-restart')).trim(), '', 'the restart is no longer owed');
  });

  it('shrinking the HA set removes the leaver\'s keepalived, so it cannot hold the VIP beside the group; the leaver holding the VIP does not fail precheck', async () => {
    // The leaver holds the VIP, as the first member (highest priority) usually does when it is the one removed: the
    // others' keepalived stopped for a moment hands it to node3. Precheck must see kk's keepalived holding it there.
    for (const n of ['node1', 'node2']) await on(n, 'systemctl stop kk-keepalived.service');
    let report: InitRegistryReport;
    try {
      await on('node3', `for i in $(seq 30); do ip -o addr | grep -q ' inet ${labFile.vip}/' && exit 0; sleep 1; done; exit 1`);
      assert.deepEqual(await vipHolders(), ['node3']);
      report = (await init(inventory('ha', ['node1', 'node2']), `image_registry.ha_vip=${labFile.vip}`, s3Set())).report;
    } finally {
      for (const n of ['node1', 'node2']) await on(n, 'systemctl start kk-keepalived.service');
    }
    assert.ok(report.precheck.checks.some((c) => c.host === 'node1' && c.check === 'vip' && c.status === 'pass' && /held by our keepalived/.test(c.message)), JSON.stringify(report.precheck.checks.filter((c) => c.check === 'vip')));
    assert.deepEqual(report.ha?.removed, ['node3']);
    assert.deepEqual(await vipHolders(), [report.ha!.vipHolder]);
    assert.equal((await lab(['exec', 'node3', '--', 'sh', '-c', 'systemctl is-active kk-keepalived.service; ls /opt/keepalived 2>&1 | head -1'])).stdout.split('\n')[0], 'inactive');
    assert.match((await lab(['exec', 'node3', '--', 'sh', '-c', `ip -o addr | grep -c ' inet ${labFile.vip}/' || true`])).stdout.trim(), /^0$/);
    assert.match(await on('node1', `cat /opt/keepalived/${labVersion(labFile, 'keepalived_version')}/keepalived.conf`), new RegExp(`unicast_peer \\{\\n\\s+${NET}\\.12\\n\\s+\\}`));
  });

  it('a registry CA on the hosts from another work dir is not replaced without image_registry.rotate_ca', async () => {
    const other = path.join(dir, 'other-work');
    const r = await kk(['precheck', 'image_registry', '-i', inventory('ha', ['node1', 'node2']), '--workdir', other, '--output', 'json', '--set', labFile.set['docker-registry'], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`, '--set', `image_registry.ha_vip=${labFile.vip}`, '--set', s3Set()]);
    await kk(['server', 'stop', '--workdir', other]);
    assert.equal(r.code, 1, r.stderr);
    const ca = (JSON.parse(r.stdout) as { checks: { host: string; check: string; status: string; fix?: string }[] }).checks.filter((c) => c.check === 'ca');
    assert.deepEqual(ca.map((c) => [c.host, c.status]), [['node1', 'fail'], ['node2', 'fail']]);
    assert.match(ca[0]!.fix!, /--workdir that installed it|rotate_ca=true/);
  });

  it('VRRP blocked between the nodes: two VIP holders are detected and the firewall rule named', async () => {
    for (const n of ['node1', 'node2']) await on(n, 'iptables -I INPUT -p vrrp -j DROP');
    try {
      await on('node1', 'systemctl restart kk-keepalived.service');
      await on('node2', 'systemctl restart kk-keepalived.service');
      // Deaf to each other, both become MASTER within a few adverts: wait for that before the run looks.
      for (const n of ['node1', 'node2']) await on(n, `for i in $(seq 30); do ip -o addr | grep -q ' inet ${labFile.vip}/' && exit 0; sleep 1; done; exit 1`);
      const r = await kk(['init', 'registry', '-i', inventory('ha', ['node1', 'node2']), '--workdir', workdir, '--set', labFile.set['docker-registry'], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`, '--set', `image_registry.ha_vip=${labFile.vip}`, '--set', s3Set()]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /held by node1 and node2 at once/, r.stdout);
      assert.match(r.stderr, /iptables -I INPUT -p vrrp -j ACCEPT/);
    } finally {
      for (const n of ['node1', 'node2']) await on(n, 'iptables -D INPUT -p vrrp -j DROP; systemctl restart kk-keepalived.service');
    }
  });

  it('shrinking HA to one host: its keepalived holds the VIP alone; dropping ha_vip then removes every keepalived and frees the VIP', async () => {
    const kv = labVersion(labFile, 'keepalived_version');
    const one = (await init(inventory('ha', ['node1']), `image_registry.ha_vip=${labFile.vip}`, s3Set())).report;
    assert.equal(one.endpoint, labFile.vip);
    assert.deepEqual([one.ha?.vipHolder, one.ha?.removed], ['node1', ['node2']]);
    assert.deepEqual(await vipHolders(), ['node1']);
    assert.equal(await keepalivedUnits(), 'node1 active; node2 inactive; node3 inactive');
    assert.doesNotMatch(await on('node1', `cat /opt/keepalived/${kv}/keepalived.conf`), /unicast_peer/, 'a group of one has no peers');

    const none = (await init(inventory('ha', ['node1']), s3Set())).report;
    assert.equal(none.endpoint, labFile.nodes[0]!.address);
    assert.equal(none.ha, undefined);
    assert.deepEqual(none.keepalivedRemoved, { removed: ['node1'] });
    assert.deepEqual(await vipHolders(), []);
    assert.equal(await keepalivedUnits(), 'node1 inactive; node2 inactive; node3 inactive');
    assert.equal((await on('node1', 'ls /opt/keepalived /etc/systemd/system/kk-keepalived.service 2>/dev/null | wc -l')).trim(), '0');
  });

  // Runs on node1, where the tests above installed Docker and loaded the registry image.
  it('config.yml for every storage driver is accepted by the registry binary itself', async () => {
    const base = { work_dir: '/x', cri: {}, image_registry: { type: 'docker-registry' } };
    const render = (storage: object) => registryConfig(variablesSchema.parse({ ...base, image_registry: { ...base.image_registry, docker_registry: { storage } } }), 'secret');
    const s = labFile.s3!;
    const configs: Record<string, string> = {
      filesystem: render({}),
      'filesystem+nfs_mount': render({ filesystem: { rootdir: '/srv/registry', nfs_mount: '/exports/registry' } }),
      s3: render({ s3: { accesskey: s.accesskey, secretkey: s.secretkey, region: s.region, bucket: s.bucket, regionendpoint: s.endpoint } }),
      azure: render({ azure: { accountname: 'kklab', accountkey: Buffer.from('not-a-real-key').toString('base64'), container: 'registry', realm: 'core.windows.net' } }),
      gcs: render({ gcs: { bucket: 'kk-lab', keyfile: '/etc/docker/registry/gcs.json' } }),
    };
    const keyfile = JSON.stringify({ type: 'service_account', project_id: 'kk-lab', private_key_id: '1', private_key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), client_email: 'kk@kk-lab.iam.gserviceaccount.com', client_id: '1', token_uri: 'http://127.0.0.1:9/token' });
    const conn = await labSsh(labFile.nodes[0]!);
    for (const [name, yml] of Object.entries(configs)) {
      const plain = yml.replace(/\n {2}tls:\n(?: {4}.*\n)+/, '\n');
      await conn.exec(sh`mkdir -p /tmp/kk-cfg && cat > ${`/tmp/kk-cfg/${name}.yml`}`, { sudo: true, stdin: plain });
      await conn.exec(sh`cat > /tmp/kk-cfg/gcs.json`, { sudo: true, stdin: keyfile });
      const r = await conn.exec(sh`timeout 8 docker run --rm -v ${`/tmp/kk-cfg/${name}.yml`}:/etc/docker/registry/config.yml:ro -v /tmp/kk-cfg/gcs.json:/etc/docker/registry/gcs.json:ro registry:${reg} 2>&1; echo "exit=$?"`, { sudo: true, timeoutMs: 60_000 });
      const out = r.stdout;
      assert.doesNotMatch(out, /configuration error|error parsing|invalid configuration/i, `${name}:\n${out}`);
      if (name.startsWith('filesystem') || name === 's3') assert.match(out, /listening on \[::\]:5000/, `${name} starts:\n${out}`);
      // The lab's distribution build has no gcs driver (see lab/artifacts/distribution.ts): the config is parsed, and
      // the failure comes after, when the driver is looked up.
      else if (name === 'gcs') assert.match(out, /StorageDriver not registered: gcs/, `${name}:\n${out}`);
      // Azure and GCS are not reachable from the lab: the driver accepts the config, then fails (or waits) on the network.
      else assert.match(out, /dial tcp|no such host|lookup |connection refused|^exit=124$/m, `${name} fails only on reaching its storage:\n${out}`);
    }
    // The control: a broken azure config is refused at once, so the checks above can tell the difference.
    const broken = configs.azure!.replace(/\n\s+container: registry/, '').replace(/\n {2}tls:\n(?: {4}.*\n)+/, '\n');
    await conn.exec(sh`cat > /tmp/kk-cfg/broken.yml`, { sudo: true, stdin: broken });
    const r = await conn.exec(sh`timeout 8 docker run --rm -v /tmp/kk-cfg/broken.yml:/etc/docker/registry/config.yml:ro registry:${reg} 2>&1; echo "exit=$?"`, { sudo: true, timeoutMs: 60_000 });
    assert.match(r.stdout, /container/i);
    assert.doesNotMatch(r.stdout, /^exit=(0|124)$/m);
    conn.close();
  });

  it('NFS-backed data: the exact mount and fstab commands, and the fstab edit keeps one managed line', async () => {
    const c = nfsCommands({ server: '172.30.99.13', export: '/exports/registry' }, '/var/lib/docker-registry/data');
    assert.equal(c.mount, "mountpoint -q /var/lib/docker-registry/data || mount -t nfs 172.30.99.13:/exports/registry /var/lib/docker-registry/data");
    assert.equal(
      c.fstab,
      "grep -v ' # kk docker-registry$' /etc/fstab > /etc/fstab.kktmp; printf '%s\\n' '172.30.99.13:/exports/registry /var/lib/docker-registry/data nfs defaults,_netdev 0 0 # kk docker-registry' >> /etc/fstab.kktmp && mv -f /etc/fstab.kktmp /etc/fstab",
    );
    const before = await on('node3', 'cat /etc/fstab');
    await on('node3', c.fstab);
    await on('node3', c.fstab);
    const afterText = await on('node3', 'cat /etc/fstab');
    assert.equal(afterText.split('\n').filter((l) => l.endsWith('# kk docker-registry')).length, 1);
    assert.ok(afterText.startsWith(before.trimEnd()), 'the other lines are kept');
    await on('node3', "sed -i '/ # kk docker-registry$/d' /etc/fstab");
  });
});
