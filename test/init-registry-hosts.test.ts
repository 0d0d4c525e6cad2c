import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ApplicationFailure } from '@temporalio/common';
import { mergeDaemonJson } from '../activities/install/docker-units';
import { refuseForeignUnit } from '../activities/install/registry';
import { KK_UNIT_MARKER } from '../registry/markers';
import { sh } from '../activities/ssh/quote';
import { variablesSchema } from '../config/variables';
import type { LabFile } from '../lab/lab-file';
import { registryConfig } from '../registry/render';
import { kk } from './support/kk';
import { labInventory, labSsh, labUp, labVersion, onNode, resetNodes } from './support/lab';

/**
 * `kk init registry` on hosts that are not blank: a Docker kk did not install, another installer's registry unit, a
 * broken daemon.json on one node, sudo without /usr/local/bin in its secure_path, a restart owed by an interrupted
 * attempt, plain HTTP. Logged in as the lab's non-root `ops` user with a password, through sudo.
 */
let labFile: LabFile;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-hosts-'));
const workdir = path.join(dir, 'work');

function inventory(name: string, registryNodes: string[], file = labFile.inventoryPassword): string {
  const password = parse(fs.readFileSync(file, 'utf8')) as { spec: { hosts: Record<string, unknown> } };
  return labInventory(labFile, dir, name, registryNodes, { hosts: password.spec.hosts });
}

const common = () => ['--workdir', workdir, '--set', labFile.set['docker-registry'], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`];

const on = (node: string, cmd: string, stdin?: string) => onNode(labFile, node, cmd, stdin);

/** A Docker as a distribution's package leaves it: binaries in /usr/bin, units in /lib/systemd/system, its own daemon.json. */
async function distributionDocker(node: string): Promise<void> {
  const tarball = path.join(labFile.workdir, 'kubekey', 'docker', labVersion(labFile, 'docker_version'), 'amd64', `docker-${labVersion(labFile, 'docker_version')}.tgz`);
  const conn = await labSsh(labFile.nodes.find((n) => n.name === node)!);
  try {
    await conn.upload(tarball, '/root/docker-distro.tgz');
  } finally {
    conn.close();
  }
  await on(node, 'tar -C /usr/bin --strip-components=1 -xzf /root/docker-distro.tgz docker/ && rm /root/docker-distro.tgz');
  await on(node, 'cat > /lib/systemd/system/docker.service', '[Unit]\nDescription=Docker (distribution package)\n[Service]\nType=notify\nExecStart=/usr/bin/dockerd -H unix:///var/run/docker.sock\nExecReload=/bin/kill -s HUP $MAINPID\n[Install]\nWantedBy=multi-user.target\n');
  await on(node, 'mkdir -p /etc/docker && cat > /etc/docker/daemon.json', '{\n  "data-root": "/var/lib/docker-distro",\n  "registry-mirrors": ["https://mirror.invalid"]\n}\n');
  await on(node, 'systemctl daemon-reload && systemctl enable --now docker && for i in $(seq 30); do docker info >/dev/null 2>&1 && break; sleep 1; done');
  await on(node, 'd=$(mktemp -d) && echo kept > "$d/f" && tar -C "$d" -cf - f | docker import - distro/keep:1 >/dev/null');
}

before(async () => {
  labFile = await labUp(3);
  await resetNodes(labFile);
});

after(async () => {
  await resetNodes(labFile);
  await kk(['server', 'stop', '--workdir', workdir]);
});

describe('kk init registry on hosts that already hold things', () => {
  let dockerStarted = '';
  it('precheck says what init keeps and refuses another installer\'s registry unit, changing nothing', async () => {
    await distributionDocker('node2');
    dockerStarted = await on('node2', 'systemctl show -p ActiveEnterTimestampMonotonic --value docker.service');
    await on('node3', 'cat > /etc/systemd/system/docker-registry.service && systemctl daemon-reload', '[Unit]\nDescription=someone else\'s registry\n[Service]\nExecStart=/bin/sleep infinity\n');
    const r = await kk(['precheck', 'image_registry', '-i', inventory('hosts', ['node1', 'node2', 'node3']), '--output', 'json', ...common()]);
    assert.equal(r.code, 1, r.stderr);
    const checks = (JSON.parse(r.stdout) as { checks: { host: string; check: string; status: string; message: string; fix?: string }[] }).checks.filter((c) => c.check === 'existing');
    const node2 = checks.filter((c) => c.host === 'node2').map((c) => c.message).join('\n');
    assert.match(node2, /docker: keep 20\.10\.24\S* at \/usr\/bin\/docker \(not installed by kk/);
    assert.match(checks.filter((c) => c.host === 'node1').map((c) => c.message).join('\n'), /docker: install 20\.10\.24/);
    const foreign = checks.find((c) => c.host === 'node3' && c.status === 'fail');
    assert.match(foreign?.message ?? '', /docker-registry\.service exists but was not installed by kk/);
    assert.match(await on('node3', 'ls /usr/local/bin'), /^$/, 'nothing installed on node3');
  });

  it("a packaged registry unit (in /lib/systemd/system) is refused by the install step itself, naming the file", async () => {
    await on('node1', 'cat > /lib/systemd/system/docker-registry.service && systemctl daemon-reload', '[Unit]\nDescription=a distribution\'s registry\n[Service]\nExecStart=/bin/sleep infinity\n');
    const conn = await labSsh(labFile.nodes[0]!);
    try {
      await assert.rejects(refuseForeignUnit(conn, 'docker-registry.service'), (err: ApplicationFailure) => {
        assert.equal(err.type, 'CommandFailed');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /^node1 \(.*\): \/(usr\/)?lib\/systemd\/system\/docker-registry\.service \(docker-registry\.service\) exists and was not installed by kk/);
        return true;
      });
      // kk's own unit in /etc takes precedence over the packaged one: that is kk's, and accepted.
      await on('node1', 'cat > /etc/systemd/system/docker-registry.service && systemctl daemon-reload', `${KK_UNIT_MARKER}\n[Unit]\nDescription=kk\n`);
      await refuseForeignUnit(conn, 'docker-registry.service');
    } finally {
      conn.close();
      await on('node1', 'rm -f /lib/systemd/system/docker-registry.service /etc/systemd/system/docker-registry.service && systemctl daemon-reload');
    }
  });

  it('a deterministic failure parks its host at once (exit 3, the fix named) while the others finish; kk resume finishes it; a kept Docker is untouched', async () => {
    await on('node3', 'rm /etc/systemd/system/docker-registry.service && systemctl daemon-reload && mkdir -p /etc/docker && printf "{broken" > /etc/docker/daemon.json');
    // sudo's secure_path without /usr/local/bin (as on RHEL): kk must not depend on it.
    for (const n of ['node1', 'node2', 'node3']) await on(n, 'cat > /etc/sudoers.d/zz-secure-path && chmod 440 /etc/sudoers.d/zz-secure-path', 'Defaults secure_path="/usr/sbin:/usr/bin:/sbin:/bin"\n');
    const started = Date.now();
    const r = await kk(['init', 'registry', '-i', inventory('hosts', ['node1', 'node2', 'node3']), ...common()]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /node3: step installDocker: CommandFailed: .*daemon\.json is not valid JSON/);
    assert.match(r.stderr, /fix: fix what the message names on the host/);
    assert.doesNotMatch(r.stderr, /^  node[12]: step/m, 'only node3 parked');
    assert.ok(Date.now() - started < 150_000, 'a deterministic failure is not retried for minutes');
    for (const n of ['node1', 'node2']) assert.equal((await on(n, 'systemctl is-active docker-registry.service')).trim(), 'active', n);
    // kk status shows the parked host, its step and fix, with no worker running.
    const status = await kk(['status', '--workdir', workdir, '--output', 'json']);
    assert.match(status.stdout, /installDocker/);
    // The person fixes the host; kk resume runs the parked step again and the run finishes.
    await on('node3', 'rm /etc/docker/daemon.json');
    // Running the same command again does what kk resume does: the parked step runs again.
    const resumed = await kk(['init', 'registry', '-i', inventory('hosts', ['node1', 'node2', 'node3']), ...common()]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /node3: installDocker went through/);
    assert.equal((await on('node3', 'systemctl is-active docker-registry.service')).trim(), 'active');
    // node2's Docker: same binaries, same daemon.json, not restarted, its images still there.
    assert.equal((await on('node2', 'ls /usr/local/bin')).trim(), 'docker-compose');
    assert.equal(await on('node2', 'cat /etc/docker/daemon.json'), '{\n  "data-root": "/var/lib/docker-distro",\n  "registry-mirrors": ["https://mirror.invalid"]\n}\n');
    assert.equal(await on('node2', 'systemctl show -p ActiveEnterTimestampMonotonic --value docker.service'), dockerStarted);
    assert.match(await on('node2', 'docker image ls --format "{{.Repository}}:{{.Tag}}"'), /distro\/keep:1/);
    // The sudo password reached sudo only: kk's own daemon.json on node1 is kk's JSON and nothing else.
    const password = (parse(fs.readFileSync(labFile.inventoryPassword, 'utf8')) as { spec: { hosts: { node1: { connector: { password: string } } } } }).spec.hosts.node1.connector.password;
    const daemon = await on('node1', 'cat /etc/docker/daemon.json');
    assert.doesNotMatch(daemon, new RegExp(password));
    assert.equal((JSON.parse(daemon) as Record<string, unknown>)['data-root'], '/var/lib/docker');
  });

  it('a restart owed by an interrupted attempt is made by the next run, though the files are already in place', async () => {
    // First converge node1 alone (its certificate's names change with the smaller set of registry hosts).
    assert.equal((await kk(['init', 'registry', '-i', inventory('one', ['node1']), ...common()])).code, 0);
    // An attempt killed between writing config.yml and restarting leaves the new file and its pending-restart marker.
    const secret = fs.readFileSync(path.join(workdir, 'secrets', 'docker_registry_http_secret'), 'utf8').trim();
    const vars = variablesSchema.parse({ work_dir: workdir, image_registry: { type: 'docker-registry', docker_registry: { delete_enabled: true } } });
    const reg = labVersion(labFile, 'docker_registry_version');
    await on('node1', sh`cat > ${`/opt/docker-registry/${reg}/config.yml`} && chmod 600 ${`/opt/docker-registry/${reg}/config.yml`} && mkdir -p /var/lib/kubekey/pending-restart && touch /var/lib/kubekey/pending-restart/docker-registry`, registryConfig(vars, secret));
    const before = await on('node1', 'docker inspect -f "{{.State.StartedAt}}" docker-registry');
    const r = await kk(['init', 'registry', '-i', inventory('one', ['node1']), '--output', 'json', ...common(), '--set', 'image_registry.docker_registry.delete_enabled=true']);
    assert.equal(r.code, 0, r.stderr);
    const steps = (JSON.parse(r.stdout) as { nodes: { steps: Record<string, string> }[] }).nodes[0]!.steps;
    assert.equal(steps['registry.config'], 'skipped', 'the file was already in place');
    assert.equal(steps['registry.service'], 'restarted');
    assert.notEqual(await on('node1', 'docker inspect -f "{{.State.StartedAt}}" docker-registry'), before);
    assert.equal((await on('node1', 'ls /var/lib/kubekey/pending-restart')).trim(), '', 'the marker is cleared after the restart');
  });

  it('kk resume --abort ends a parked run with what was done and what was not', async () => {
    await on('node3', 'printf "{broken" > /etc/docker/daemon.json');
    const r = await kk(['init', 'registry', '-i', inventory('hosts', ['node1', 'node2', 'node3']), ...common()]);
    assert.equal(r.code, 3, r.stderr);
    // kk resume with nothing fixed: the step runs once more, fails the same way, and the run parks again.
    const again = await kk(['resume', '--workdir', workdir]);
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stderr, /node3: installDocker failed again: CommandFailed/);
    const aborted = await kk(['resume', '--abort', '--workdir', workdir]);
    assert.equal(aborted.code, 1, aborted.stderr);
    assert.match(aborted.stderr, /node3: Aborted: node3: aborted at installDocker/);
    const nothing = await kk(['resume', '--abort', '--workdir', workdir]);
    assert.equal(nothing.code, 2, 'nothing left to abort');
  });

  it('plain HTTP, logged in as a NOPASSWD sudo user with a password: Docker is told the registry is insecure (a reload owed by an interrupted attempt is made), and no file gets the password', async () => {
    await on('node3', 'rm -f /etc/docker/daemon.json');
    // node2's Docker is not kk's: an attempt killed after merging insecure-registries into its daemon.json, before the
    // reload, leaves the merged file and the marker. The next run finds the file as it would write it and must still reload.
    const [node2, node3] = [labFile.nodes[1]!.address, labFile.nodes[2]!.address];
    const merged = mergeDaemonJson(JSON.parse(await on('node2', 'cat /etc/docker/daemon.json')) as Record<string, unknown>, { insecureRegistries: [node2, node3] });
    await on('node2', 'cat > /etc/docker/daemon.json && mkdir -p /var/lib/kubekey/pending-restart && touch /var/lib/kubekey/pending-restart/docker', merged);
    const insecureIn = async (n: string, address: string) => new RegExp(`Insecure Registries:(\\n .*)*\\n +${address.replace(/\./g, '\\.')}\\n`).test(await on(n, 'docker info'));
    assert.equal(await insecureIn('node2', node2), false, 'not yet in effect');
    // Another work dir installs here: the nodes hold the first one's CA, which only rotate_ca lets it replace.
    const r = await kk(['init', 'registry', '-i', inventory('plain', ['node2', 'node3'], labFile.inventoryNopasswd), '--output', 'json', ...common(), '--workdir', path.join(dir, 'plain'), '--set', 'image_registry.auth.plain_http=true', '--set', 'image_registry.rotate_ca=true']);
    await kk(['server', 'stop', '--workdir', path.join(dir, 'plain')]);
    assert.equal(r.code, 0, r.stderr);
    const daemon = JSON.parse(await on('node3', 'cat /etc/docker/daemon.json')) as { 'insecure-registries'?: string[] };
    assert.ok(daemon['insecure-registries']?.some((n) => n.startsWith(node3)), JSON.stringify(daemon));
    assert.equal(await on('node2', 'cat /etc/docker/daemon.json'), merged, 'node2 kept as the interrupted attempt left it');
    for (const [n, address] of [['node2', node2], ['node3', node3]] as const) assert.equal(await insecureIn(n, address), true, `${n}: docker info lists ${address} as insecure`);
    assert.equal((await on('node2', 'ls /var/lib/kubekey/pending-restart')).trim(), '', 'the reload is no longer owed');
    assert.equal(await on('node2', 'systemctl show -p ActiveEnterTimestampMonotonic --value docker.service'), dockerStarted, 'reloaded, not restarted');
    // sudo did not ask, so the password must not have reached any command's stdin (and so any file kk wrote).
    const password = (parse(fs.readFileSync(labFile.inventoryNopasswd, 'utf8')) as { spec: { hosts: { node3: { connector: { password: string } } } } }).spec.hosts.node3.connector.password;
    for (const n of ['node2', 'node3']) assert.equal((await on(n, sh`grep -rlF -- ${password} /etc/docker /etc/systemd/system /opt/docker-registry || true`)).trim(), '', n);
  });
});
