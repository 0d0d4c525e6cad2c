import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DeleteRegistryReport } from '../registry/cluster-types';
import type { LabFile } from '../lab/lab-file';
import { kk } from './support/kk';
import { labInventory, labUp, onNode, resetNodes } from './support/lab';

/**
 * `kk delete registry` on the lab: after create cluster (docker-registry on node1, node2 a k8s_cluster host) and after
 * an HA Harbor install (node1 and node2 behind the VIP); then again; --with-data; --all back to the hosts' first state.
 */
let labFile: LabFile;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-delete-'));
const workdir = path.join(dir, 'work');
const localHosts = path.join(dir, 'hosts');
const NAME = 'registry.kk.lab';
const on = (node: string, cmd: string) => onNode(labFile, node, cmd);
let pristine: string[];

/** Every file and directory an install may write (containerd's own state, logs and package state aside), and /etc/hosts. */
const snapshot = (node: string) =>
  on(node, 'find /etc /opt /usr/local /var/lib /root -xdev \\( -path /var/lib/containerd -o -path /opt/containerd -o -path /var/lib/systemd -o -path /var/lib/apt -o -path /var/lib/dpkg \\) -prune -o -print | sort; cat /etc/hosts');

function inventory(name: string, registry: string[], cluster: string[]): string {
  return labInventory(labFile, dir, name, registry, { groups: { k8s_cluster: { hosts: cluster } } });
}

function run(args: string[], type: 'docker-registry' | 'harbor', ...sets: string[]) {
  return kk([...args, '--workdir', workdir, '--set', labFile.set[type], '--set', `binary_dir=${path.join(labFile.workdir, 'kubekey')}`, ...sets.flatMap((s) => ['--set', s])], { KK_HOSTS_FILE: localHosts });
}

async function del(inv: string, type: 'docker-registry' | 'harbor', ...flags: string[]): Promise<DeleteRegistryReport> {
  const r = await run(['delete', 'registry', '-i', inv, '--output', 'json', ...flags], type);
  assert.equal(r.code, 0, `${r.stderr}\n${r.stdout.slice(-2000)}`);
  return JSON.parse(r.stdout) as DeleteRegistryReport;
}

const steps = (report: DeleteRegistryReport, host: string) => report.nodes.find((n) => n.host === host)!.steps;

before(async () => {
  labFile = await labUp(3);
  await resetNodes(labFile);
  fs.writeFileSync(localHosts, '127.0.0.1 localhost\n');
  pristine = await Promise.all(['node1', 'node2'].map(snapshot));
});

// Every lab test file starts from fresh hosts (resetNodes in its before): no second reset here, it costs CI time; but
// no unit may stay `failed`, or the next file's `lab up` finds the hosts degraded.
after(async () => {
  await kk(['server', 'stop', '--workdir', workdir]);
  for (const n of labFile.nodes) await onNode(labFile, n.name, 'systemctl reset-failed; true').catch(() => undefined);
});

describe('kk delete registry', () => {
  const inv = () => inventory('del', ['node1'], ['node2']);

  it('after create cluster (docker-registry): removes the install and the trust entries, keeps the data; again: no error', async () => {
    const created = await run(['create', 'cluster', '-i', inv(), '--output', 'json'], 'docker-registry', `image_registry.auth.registry=${NAME}`);
    assert.equal(created.code, 0, created.stderr);
    assert.match(fs.readFileSync(localHosts, 'utf8'), new RegExp(NAME.replace(/\./g, '\\.')));

    const report = await del(inv(), 'docker-registry', '--set', `image_registry.auth.registry=${NAME}`);
    assert.equal(steps(report, 'node1')['docker-registry'], 'removed');
    assert.match(steps(report, 'node1').trust!, /certs\.d\/registry\.kk\.lab\/ca\.crt.*\/etc\/hosts block/);
    assert.match(steps(report, 'node2').trust!, /certs\.d\/registry\.kk\.lab\/ca\.crt.*\/etc\/hosts block/);
    assert.equal(await on('node1', 'systemctl is-active docker-registry.service; ls /etc/systemd/system /opt | grep -c -e docker-registry || true'), 'inactive\n0\n');
    for (const n of ['node1', 'node2']) {
      assert.equal(await on(n, 'ls /etc/docker/certs.d 2>/dev/null | wc -l'), '0\n', `${n}: no trust entry left`);
      assert.doesNotMatch(await on(n, 'cat /etc/hosts'), /kk-registry|registry\.kk\.lab/, n);
      assert.match(await on(n, 'docker --version'), /Docker version/, `${n}: Docker stays without --all`);
    }
    assert.equal(fs.readFileSync(localHosts, 'utf8'), '127.0.0.1 localhost\n', "this machine's block is removed too");
    assert.match(await on('node1', 'ls /var/lib/docker-registry/data/docker/registry/v2/repositories'), /kk-verify/, 'the data stays');

    const again = await del(inv(), 'docker-registry', '--set', `image_registry.auth.registry=${NAME}`);
    assert.deepEqual(steps(again, 'node1'), { trust: 'none found' });
    assert.deepEqual(steps(again, 'node2'), { trust: 'none found' });
  });

  it('--with-data names the paths and asks first; with --yes the data is gone; --all brings the hosts back to their first state', async () => {
    const refused = await run(['delete', 'registry', '-i', inv(), '--with-data'], 'docker-registry');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--with-data deletes \/var\/lib\/harbor\/data, \/var\/lib\/docker-registry\/data on node1 .*confirm with --yes.*nothing was changed/);
    assert.match(await on('node1', 'ls /var/lib/docker-registry/data'), /docker/);

    const report = await del(inv(), 'docker-registry', '--with-data', '--yes');
    assert.equal(steps(report, 'node1')['data /var/lib/docker-registry/data'], 'deleted');
    assert.equal(await on('node1', 'test -e /var/lib/docker-registry/data && echo present || echo gone'), 'gone\n');

    const all = await del(inv(), 'docker-registry', '--all');
    assert.match(steps(all, 'node1').docker!, /^removed Docker and docker-compose/);
    assert.match(steps(all, 'node2').docker!, /^removed Docker and docker-compose/, 'the Docker create cluster installed on a runtime-less node');
    assert.deepEqual(await Promise.all(['node1', 'node2'].map(snapshot)), pristine, 'the hosts match their state before the install');
  });

  it('HA Harbor behind the VIP: keepalived, the VIP and Harbor go, the data stays; --with-data --all: the first state again', async () => {
    const haInv = inventory('del-ha', ['node1', 'node2'], []);
    const init = await run(['init', 'registry', '-i', haInv, '--output', 'json'], 'harbor', `image_registry.ha_vip=${labFile.vip}`);
    assert.equal(init.code, 0, `${init.stderr}\n${init.stdout.slice(-2000)}`);

    const report = await del(haInv, 'harbor', '--set', `image_registry.ha_vip=${labFile.vip}`);
    for (const n of ['node1', 'node2']) {
      assert.equal(steps(report, n).harbor, 'removed', n);
      assert.equal(steps(report, n).keepalived, 'removed', n);
      assert.equal(await on(n, 'ls /opt | grep -v "^containerd$"; systemctl is-active harbor.service kk-keepalived.service; true'), 'inactive\ninactive\n', `${n}: nothing of kk's in /opt, units gone`);
      assert.equal(await on(n, `ip -o addr | grep -c ' inet ${labFile.vip}/' || true`), '0\n', `${n} does not hold the VIP`);
      assert.equal(await on(n, 'docker ps -aq | wc -l'), '0\n', `${n}: no container left`);
      assert.equal(await on(n, 'docker images -q | wc -l'), '0\n', `${n}: no image kk loaded is left (Harbor's, keepalived's)`);
      assert.match(await on(n, 'ls /var/lib/harbor/data'), /registry/, `${n}: Harbor's data stays`);
    }
    await del(haInv, 'harbor', '--with-data', '--all', '--yes');
    assert.deepEqual(await Promise.all(['node1', 'node2'].map(snapshot)), pristine, 'the hosts match their state before the install');
  });
});
