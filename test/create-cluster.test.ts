import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HOSTS_BLOCK_BEGIN } from '../registry/cluster-trust';
import type { CreateClusterReport } from '../registry/cluster-types';
import type { LabFile } from '../lab/lab-file';
import { kk } from './support/kk';
import { labInventory, labSsh, labUp, labVersion, onNode, resetNodes } from './support/lab';

/**
 * `kk create cluster` (the registry phase) on the lab, docker-registry type: node1 is the registry host and a
 * control-plane host (its `<run>/node/node1` workflow runs twice: install, then trust), node2 a control-plane host with
 * no runtime at all, node3 a worker with containerd alone (no Docker).
 */
let labFile: LabFile;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-cluster-'));
const workdir = path.join(dir, 'work');
const localHosts = path.join(dir, 'hosts');
const NAME = 'registry.kk.lab';
const on = (node: string, cmd: string) => onNode(labFile, node, cmd);

const groups = (registry: string[], controlPlane: string[], workers: string[]) => ({
  groups: { kube_control_plane: { hosts: controlPlane }, kube_worker: { hosts: workers }, k8s_cluster: { groups: ['kube_control_plane', 'kube_worker'] } },
  registry,
});

function create(name: string, g: ReturnType<typeof groups>, output: 'json' | 'text' = 'json') {
  const inv = labInventory(labFile, dir, name, g.registry, { groups: g.groups });
  return kk(
    ['create', 'cluster', '-i', inv, '--workdir', workdir, '--output', output, '--set', labFile.set['docker-registry'], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`, '--set', `image_registry.auth.registry=${NAME}`],
    { KK_HOSTS_FILE: localHosts },
  );
}

/** Every file and directory under the places an install writes (not containerd's own state or logs), and /etc/hosts. */
const snapshot = (node: string) =>
  on(node, 'find /etc /opt /usr/local /var/lib /root -xdev \\( -path /var/lib/containerd -o -path /opt/containerd -o -path /var/lib/systemd -o -path /var/lib/apt -o -path /var/lib/dpkg \\) -prune -o -print | sort; cat /etc/hosts');

/** containerd alone, from the Docker tarball the lab built (as a distribution or KubeKey would set it up: not kk's). */
async function containerdOnly(node: string): Promise<void> {
  const ver = labVersion(labFile, 'docker_version');
  // A dropped connection (a loaded machine) resumes from the bytes the host has, as kk's own uploads do.
  for (let attempt = 1; ; attempt++) {
    const conn = await labSsh(labFile.nodes.find((n) => n.name === node)!);
    try {
      await conn.upload(path.join(labFile.workdir, 'kubekey', 'docker', ver, 'amd64', `docker-${ver}.tgz`), '/root/containerd-src.tgz');
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    } finally {
      conn.close();
    }
  }
  await on(
    node,
    [
      'tar -C /usr/local/bin --strip-components=1 -xzf /root/containerd-src.tgz docker/containerd docker/containerd-shim-runc-v2 docker/ctr docker/runc && rm -f /root/containerd-src.tgz',
      "printf '[Unit]\\nDescription=containerd\\n[Service]\\nExecStart=/usr/local/bin/containerd\\nType=notify\\nDelegate=yes\\nKillMode=process\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/containerd.service",
      'systemctl daemon-reload && systemctl enable --now containerd.service',
      'for i in $(seq 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1',
    ].join(' && '),
  );
}

before(async () => {
  labFile = await labUp(3);
  await resetNodes(labFile);
  fs.writeFileSync(localHosts, '127.0.0.1 localhost\n');
  await containerdOnly('node3');
});

// Every lab test file starts from fresh hosts (resetNodes in its before): no second reset here, it costs CI time; but
// no unit may stay `failed`, or the next file's `lab up` finds the hosts degraded.
after(async () => {
  await kk(['server', 'stop', '--workdir', workdir]);
  for (const n of labFile.nodes) await onNode(labFile, n.name, 'systemctl reset-failed; true').catch(() => undefined);
});

describe('kk create cluster (registry phase)', () => {
  it('no registry yet: installs it as init registry does, then every k8s_cluster host pulls (docker installed where no runtime; ctr on containerd)', async () => {
    const r = await create('cluster', groups(['node1'], ['node1', 'node2'], ['node3']));
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout.slice(-3000)}`);
    const report = JSON.parse(r.stdout) as CreateClusterReport;
    assert.equal(report.registry.action, 'installed');
    assert.deepEqual(report.registry.found, { node1: { kind: 'missing' } });
    assert.equal(report.registry.install?.nodes[0]?.steps['registry.service'], 'started', 'init registry ran');
    assert.equal(report.endpoint, NAME);
    const byHost = Object.fromEntries(report.nodes.map((n) => [n.host, n]));
    assert.equal(byHost.node2?.steps.docker, 'installed', 'node2 had no runtime: Docker installed with init\'s step');
    assert.equal(byHost.node2?.pulledWith, 'docker');
    assert.deepEqual([byHost.node1?.pulledWith, byHost.node1?.steps], ['docker', { dockerTrust: 'skipped' }], 'the registry host trusts the CA since init');
    assert.equal(byHost.node3?.runtime, 'containerd');
    assert.equal(byHost.node3?.pulledWith, 'ctr');
    assert.match(byHost.node3!.steps.containerd!, /config_path set/);

    // Trust: the CA where Docker reads it, hosts.toml (current format) where containerd is the runtime.
    const ca = fs.readFileSync(path.join(workdir, 'pki', 'root.crt'), 'utf8');
    assert.equal(await on('node2', `cat /etc/docker/certs.d/${NAME}/ca.crt`), ca);
    assert.match(await on('node3', `cat /etc/containerd/certs.d/${NAME}/hosts.toml`), new RegExp(`server = "https://${NAME.replace(/\./g, '\\.')}"[\\s\\S]*ca = "/etc/containerd/certs.d/${NAME.replace(/\./g, '\\.')}/ca.crt"`));
    assert.match(await on('node3', 'cat /etc/containerd/config.toml'), /config_path = "\/etc\/containerd\/certs\.d"/);
    assert.doesNotMatch(await on('node3', 'cat /etc/containerd/config.toml'), /registry\.configs|registry\.mirrors/);
    assert.equal(await on('node3', 'test -e /usr/local/bin/dockerd && echo docker || echo none'), 'none\n', 'no Docker on the containerd node');
    // The name resolves through kk's block, on every host and on this machine (KK_HOSTS_FILE).
    for (const n of ['node1', 'node2', 'node3']) assert.match(await on(n, 'cat /etc/hosts'), new RegExp(`${HOSTS_BLOCK_BEGIN}\\n${labFile.nodes[0]!.address.replace(/\./g, '\\.')} ${NAME}\\n`), n);
    assert.match(fs.readFileSync(localHosts, 'utf8'), new RegExp(`^127\\.0\\.0\\.1 localhost\\n${HOSTS_BLOCK_BEGIN}\\n${labFile.nodes[0]!.address.replace(/\./g, '\\.')} ${NAME}\\n`));
    // No credential left behind by the pulls.
    assert.equal(await on('node3', 'ls /var/lib/kubekey | grep -c pull || true'), '0\n');
    assert.doesNotMatch(await on('node2', 'cat /root/.docker/config.json 2>/dev/null || true'), /auth"/);
  });

  it('the registry runs with the same inputs: installs nothing, only configures trust and pulls', async () => {
    const started = await on('node1', 'systemctl show -p ActiveEnterTimestampMonotonic --value docker-registry.service');
    const r = await create('cluster', groups(['node1'], ['node1', 'node2'], ['node3']), 'text');
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout.slice(-3000)}`);
    assert.match(r.stdout, /this tool does not bootstrap Kubernetes/);
    assert.match(r.stdout, /node1 +kk's docker-registry 2\.8\.3, healthy/);
    assert.match(r.stdout, /registry: kk's install found, healthy, with the same inputs: nothing to do/);
    assert.doesNotMatch(r.stdout, /verified: pushed .* from node1, pulled on node1\n/, "init registry's report is not there: it did not run");
    assert.match(r.stdout, /node2 +docker 20\.10\.24\S* \(kk\); dockerTrust skipped; pulled with docker/);
    assert.match(r.stdout, /node3 +containerd; containerd skipped; pulled with ctr/);
    assert.equal(await on('node1', 'systemctl show -p ActiveEnterTimestampMonotonic --value docker-registry.service'), started, 'the registry was not restarted');
  });

  it("another installer's registry on a registry host: stops, says what it found, changes nothing", async () => {
    // node2 runs a docker-registry.service kk did not write (and nothing that answers the endpoint with kk's CA).
    await on('node2', "printf '[Unit]\\nDescription=registry of another installer\\n[Service]\\nExecStart=/bin/sleep infinity\\n' > /etc/systemd/system/docker-registry.service && systemctl daemon-reload && systemctl start docker-registry.service");
    const before = await Promise.all(['node2', 'node3'].map(snapshot));
    const r = await create('foreign', groups(['node2'], ['node3'], []), 'text');
    assert.equal(r.code, 1, `${r.stderr}\n${r.stdout}`);
    assert.match(r.stderr, /found a registry kk did not install \(node2: docker-registry\.service \(\/etc\/systemd\/system\/docker-registry\.service, not installed by kk\)\)/);
    assert.match(r.stderr, /kk does not take over another installer's registry and changed nothing/);
    assert.deepEqual(await Promise.all(['node2', 'node3'].map(snapshot)), before, 'no file changed on any host');
    await on('node2', 'systemctl stop docker-registry.service; rm -f /etc/systemd/system/docker-registry.service; systemctl daemon-reload');
  });
});
