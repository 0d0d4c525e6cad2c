import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LabFile } from '../lab/lab-file';
import type { CheckResult, PrecheckReport } from '../precheck/types';
import { kk } from './support/kk';
import { lab, labUp, labVersion, resetNodes } from './support/lab';
import { SUBNET_PREFIX } from '../lab/paths';
/** The lab's subnet, escaped for a regular expression. */
const NET = SUBNET_PREFIX.replace(/\./g, '\\.');

/** `kk precheck image_registry` on the lab: a healthy lab passes; each fault fails exactly the check it should. */
let labFile: LabFile;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-precheck-'));
const SCAN = "find / -xdev \\( -path /proc -o -path /sys -o -path /run -o -path /tmp -o -path /var/log -o -path /dev \\) -prune -o -newer /tmp/kk-precheck-marker -print";

async function precheck(sets: string[], inventory = labFile.inventory): Promise<{ code: number | null; report: PrecheckReport; stderr: string }> {
  const r = await kk(['precheck', 'image_registry', '-i', inventory, '--workdir', labFile.workdir, '--output', 'json', ...sets.flatMap((s) => ['--set', s])]);
  assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as PrecheckReport, stderr: r.stderr };
}

const failed = (report: PrecheckReport) => report.checks.filter((c) => c.status === 'fail');
const failedPairs = (report: PrecheckReport) => [...new Set(failed(report).map((c) => `${c.host ?? '-'}:${c.check}`))].sort();
const find = (report: PrecheckReport, host: string | null, check: string): CheckResult[] => report.checks.filter((c) => c.host === host && c.check === check);

before(async () => {
  labFile = await labUp(3);
  // Fresh hosts: no registry, no keepalived, the VIP free.
  await resetNodes(labFile);
});

after(async () => {
  // The CLI started the lab work dir's dev server in the background; stop it.
  await kk(['server', 'stop', '--workdir', labFile.workdir]);
  await lab(['fault', 'node3', 'heal']);
  await lab(['exec', 'node2', '--', 'systemctl', 'stop', 'kk-test-port']);
});

describe('kk precheck image_registry', () => {
  it('passes on the healthy lab with its settings, and changes nothing on any host', async () => {
    for (const n of labFile.nodes) await lab(['exec', n.name, '--', 'sh', '-c', 'touch /tmp/kk-precheck-marker && sleep 1']);
    const { code, report } = await precheck([labFile.set['docker-registry']]);
    assert.deepEqual(failed(report), []);
    assert.equal(code, 0);
    assert.equal(report.ok, true);
    for (const n of labFile.nodes) {
      for (const check of ['ssh', 'os', 'arch', 'memory', 'disk', 'ports', 'connectivity', 'clock']) {
        assert.equal(find(report, n.name, check)[0]?.status, 'pass', `${n.name} ${check}`);
      }
    }
    assert.equal(find(report, 'node1', 'cpu')[0]?.status, 'pass', 'the control-plane host has its CPU check');
    assert.equal(find(report, 'node2', 'cpu').length, 0, 'workers have none');
    assert.equal(find(report, null, 'artifact').filter((c) => c.status === 'pass').length, 3);
    for (const n of labFile.nodes) {
      const changed = (await lab(['exec', n.name, '--', 'sh', '-c', SCAN])).stdout.trim();
      assert.equal(changed, '', `${n.name} changed: ${changed}`);
    }
  });

  it("KubeKey's default thresholds fail where these small hosts fall short", async () => {
    const withoutThresholds = labFile.set['docker-registry'].split(',').filter((kv) => !kv.startsWith('precheck.')).join(',');
    const { code, report } = await precheck([withoutThresholds]);
    assert.equal(code, 1);
    assert.match(find(report, 'node1', 'cpu')[0]!.message, /2 CPUs on a kube_control_plane host, at least 4 needed/);
    const disk = find(report, 'node2', 'disk')[0]!;
    const freeGb = Number(/([\d.]+) GB free/.exec(disk.message)![1]);
    assert.equal(disk.status, freeGb < 100 ? 'fail' : 'pass', disk.message);
  });

  it('a registry port taken on one node fails that node\'s ports check, naming the holder', async () => {
    await lab(['exec', 'node2', '--', 'systemd-run', '--unit', 'kk-test-port', 'nc', '-lk', '443']);
    try {
      const { code, report } = await precheck([labFile.set['docker-registry']]);
      assert.equal(code, 1);
      assert.deepEqual(failedPairs(report), ['node2:ports']);
      assert.match(find(report, 'node2', 'ports')[0]!.message, /443 \(nc\) already in use/);
      assert.ok(find(report, 'node2', 'ports')[0]!.fix);
    } finally {
      await lab(['exec', 'node2', '--', 'systemctl', 'stop', 'kk-test-port']);
    }
  });

  const ha = (vip: string) => [
    labFile.set['docker-registry'],
    `image_registry.ha_vip=${vip},keepalived_version=2.2.7`,
    // The storage and the keepalived file are made valid so that only the VIP is judged here.
    'image_registry.docker_registry.storage.s3={"bucket":"b","region":"r","accesskey":"a","secretkey":"s"}',
    `artifact.artifact_url.keepalived.amd64=${path.join(labFile.workdir, 'kubekey', 'docker', '20.10.24', 'amd64', 'docker-20.10.24.tgz')}`,
  ];

  it('ha_vip outside every subnet fails the vip check on each registry host', async () => {
    const { code, report } = await precheck(ha('10.254.3.7'));
    assert.equal(code, 1);
    assert.deepEqual(failedPairs(report), ['node1:vip', 'node2:vip', 'node3:vip']);
    assert.match(find(report, 'node1', 'vip')[0]!.message, new RegExp(`10\\.254\\.3\\.7 is in no subnet of this host \\(eth0 ${NET}\\.11/24\\)`));
  });

  it('a free ha_vip in the subnet passes; one already in use fails', async () => {
    const free = await precheck(ha(labFile.vip));
    assert.deepEqual(failedPairs(free.report), []);
    assert.match(find(free.report, 'node1', 'vip')[0]!.message, /on eth0 .* free/);
    const taken = await precheck(ha(labFile.nodes[2]!.address.replace(/\.\d+$/, '.1')));
    assert.deepEqual(failedPairs(taken.report), ['node1:vip', 'node2:vip', 'node3:vip']);
    assert.match(find(taken.report, 'node2', 'vip')[0]!.message, /already in use/);
  });

  it('a missing artifact names the exact path and the --set that points elsewhere', async () => {
    const { code, report } = await precheck([labFile.set['docker-registry'], 'artifact.artifact_url.docker_registry.amd64=registry-missing.tgz']);
    assert.equal(code, 1);
    assert.deepEqual(failedPairs(report), ['-:artifact']);
    const f = failed(report)[0]!;
    const v = labVersion(labFile, 'docker_registry_version');
    assert.ok(f.message.startsWith(`docker_registry ${v} amd64: missing: `), f.message);
    // The path, then which worker looked (with several workers, each reads binary_dir on its own machine).
    assert.match(f.message, new RegExp(`/image-registry/docker-registry/${v.replace(/\./g, '\\.')}/amd64/registry-missing\\.tgz \\(on worker \\d+@\\S+\\)$`));
    assert.match(f.fix!, /--set artifact\.artifact_url\.docker_registry\.amd64=/);
  });

  it('a wrong password parks every host (exit 3, the fix named); kk resume -i with the right inventory finishes it', async () => {
    const inventory = path.join(tmp, 'wrong-password.yaml');
    fs.writeFileSync(inventory, fs.readFileSync(labFile.inventoryPassword, 'utf8').replace(/password: .*/g, 'password: not-the-password'));
    const r = await kk(['precheck', 'image_registry', '-i', inventory, '--workdir', labFile.workdir, '--output', 'json', '--set', labFile.set['docker-registry']]);
    assert.equal(r.code, 3, r.stderr);
    const parked = (JSON.parse(r.stdout) as { parked: { host: string; step: string; type: string; fix: string }[] }).parked;
    assert.deepEqual(parked.map((p) => [p.host, p.step, p.type]), [['node1', 'probeHost', 'SshAuthFailed'], ['node2', 'probeHost', 'SshAuthFailed'], ['node3', 'probeHost', 'SshAuthFailed']]);
    assert.match(parked[0]!.fix, /check spec\.hosts\.node1\.connector user, password or private_key/);
    assert.doesNotMatch(r.stdout + r.stderr, /not-the-password/);
    const resumed = await kk(['resume', '-i', labFile.inventoryPassword, '--workdir', labFile.workdir, '--output', 'json', '--set', labFile.set['docker-registry']]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout) as PrecheckReport).ok, true);
  });

  it('a missing version variable fails the versions check', async () => {
    const without = labFile.set['docker-registry'].split(',').filter((kv) => !kv.startsWith('docker_registry_version=')).join(',');
    const { code, report } = await precheck([without]);
    assert.equal(code, 1);
    assert.deepEqual(failedPairs(report), ['-:versions']);
    assert.match(failed(report)[0]!.message, /not set: image_registry\.docker_registry_version/);
  });

  it('HA docker-registry without shared storage fails the storage check', async () => {
    const sets = ha(labFile.vip).filter((s) => !s.includes('storage.s3'));
    const { code, report } = await precheck(sets);
    assert.equal(code, 1);
    assert.deepEqual(failedPairs(report), ['-:storage']);
    assert.match(failed(report)[0]!.message, /HA docker-registry needs shared storage/);
  });

  it('S3 storage: each registry host reaches the bucket with the keys; a wrong key fails each host\'s storage check', async () => {
    const s = labFile.s3!;
    const s3 = (secretkey: string) => `image_registry.docker_registry.storage.s3=${JSON.stringify({ accesskey: s.accesskey, secretkey, region: s.region, bucket: s.bucket, regionendpoint: s.endpoint })}`;
    const good = await precheck([labFile.set['docker-registry'], s3(s.secretkey)]);
    assert.deepEqual(failedPairs(good.report), []);
    assert.match(find(good.report, 'node1', 'storage')[0]!.message, /answers with the configured keys/);
    const bad = await precheck([labFile.set['docker-registry'], s3('not-the-secret')]);
    assert.equal(bad.code, 1);
    assert.deepEqual(failedPairs(bad.report), ['node1:storage', 'node2:storage', 'node3:storage']);
    assert.match(find(bad.report, 'node2', 'storage')[0]!.message, /refuses the configured keys \(403\)/);
  });

  it('an unreachable node parks after a few tries while its peers report they cannot reach it; resumed once it is back', async () => {
    assert.equal((await lab(['fault', 'node3', 'partition'])).code, 0);
    let healed = false;
    try {
      const r = await kk(['precheck', 'image_registry', '-i', labFile.inventory, '--workdir', labFile.workdir, '--output', 'json', '--set', labFile.set['docker-registry']]);
      assert.equal(r.code, 3, r.stderr);
      const parked = (JSON.parse(r.stdout) as { parked: { host: string; type: string }[] }).parked;
      assert.deepEqual(parked.map((p) => p.host), ['node3']);
      assert.match(parked[0]!.type, /^Ssh(Unreachable|Timeout)$/);
      await lab(['fault', 'node3', 'heal']);
      healed = true;
      const resumed = await kk(['resume', '--workdir', labFile.workdir, '--output', 'json']);
      assert.equal(resumed.code, 1, resumed.stderr);
      const report = JSON.parse(resumed.stdout) as PrecheckReport;
      // Registry hosts probe each other's registry ports (never SSH between hosts): node3's was out of reach.
      assert.deepEqual(failedPairs(report), ['node1:connectivity', 'node2:connectivity']);
      assert.match(find(report, 'node1', 'connectivity')[0]!.message, new RegExp(`cannot reach ${NET}\\.13:443`));
    } finally {
      if (!healed) await lab(['fault', 'node3', 'heal']);
    }
  });


  it('invalid configuration exits 2 before any run starts', async () => {
    const r = await kk(['precheck', 'image_registry', '-i', labFile.inventory, '--workdir', labFile.workdir, '--set', 'image_registry.ha_vip=10.0.0.300']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'error: image_registry.ha_vip: "10.0.0.300" is not an IP address');
  });
});
