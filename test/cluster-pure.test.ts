import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerdConfigPath, HOSTS_BLOCK_BEGIN, HOSTS_BLOCK_END, hostsToml, isHostName, stripHostsBlock, withContainerdConfigPath, withHostsBlock } from '../registry/cluster-trust';
import { parseDetect } from '../registry/detect';
import { KK_UNIT_MARKER } from '../registry/markers';

/** create cluster's and delete registry's pure parts: what a registry host runs, /etc/hosts, containerd's files. */
const out = (units: string[], containers: string[], fingerprint = '', health = '') =>
  ['@@units', ...units, '@@containers', ...containers, '@@fingerprint', fingerprint, '@@health', health, '@@end'].join('\n');

describe('registry detection (pure)', () => {
  it("kk's install: type and version from the compose file its unit starts, health, fingerprint", () => {
    assert.deepEqual(parseDetect(out(['docker-registry.service kk /etc/systemd/system/docker-registry.service /opt/docker-registry/2.8.3/docker-compose.yml'], ['docker-registry|registry:2.8.3|docker-registry'], 'abc', '401')), {
      kind: 'ours',
      type: 'docker-registry',
      version: '2.8.3',
      healthy: true,
      fingerprint: 'abc',
    });
    const harbor = parseDetect(out(['harbor.service kk /etc/systemd/system/harbor.service /opt/harbor/v2.10.1/harbor/docker-compose.yml'], ['harbor|goharbor/harbor-core:v2.10.1|harbor-core'], '', '000'));
    assert.deepEqual(harbor, { kind: 'ours', type: 'harbor', version: 'v2.10.1', healthy: false });
  });

  it("another installer's unit, compose project or container wins over anything of kk's", () => {
    assert.deepEqual(parseDetect(out(['harbor.service other /lib/systemd/system/harbor.service '], [])), { kind: 'foreign', found: ['harbor.service (/lib/systemd/system/harbor.service, not installed by kk)'] });
    const compose = parseDetect(out([], ['harbor|goharbor/harbor-core:v2.9.0|harbor-core', 'harbor|goharbor/registry-photon:v2.9.0|registry']));
    assert.deepEqual(compose, { kind: 'foreign', found: ['compose project harbor running Harbor v2.9.0 (goharbor/harbor-core:v2.9.0, goharbor/registry-photon:v2.9.0)'] });
    const plain = parseDetect(out(['docker-registry.service kk /etc/systemd/system/docker-registry.service /opt/docker-registry/2.8.3/docker-compose.yml'], ['|registry:2|myreg']));
    assert.deepEqual(plain, { kind: 'foreign', found: ['container myreg running a docker registry 2 (registry:2)'] });
    // kk's own keepalived or unrelated containers are not registries.
    assert.deepEqual(parseDetect(out([], ['kk-keepalived|osixia/keepalived:2.0.20|kk-keepalived', 'app|nginx:1|web'])), { kind: 'missing' });
    assert.throws(() => parseDetect('@@units\n'), /incomplete/);
    assert.ok(KK_UNIT_MARKER.startsWith('#'));
  });
});

describe('cluster trust files (pure)', () => {
  it("/etc/hosts: kk's block added, replaced, removed; the rest kept byte for byte", () => {
    const base = '127.0.0.1 localhost\n::1 localhost';
    const one = withHostsBlock(base, [{ name: 'reg.local', address: '10.0.0.5' }]);
    assert.equal(one, `${base}\n${HOSTS_BLOCK_BEGIN}\n10.0.0.5 reg.local\n${HOSTS_BLOCK_END}\n`);
    assert.equal(withHostsBlock(one, [{ name: 'reg.local', address: '10.0.0.5' }]), one, 'same entries: same text');
    assert.equal(withHostsBlock(one, [{ name: 'reg.local', address: '10.0.0.6' }]).match(/reg\.local/g)!.length, 1);
    assert.equal(stripHostsBlock(one), `${base}\n`);
    assert.equal(withHostsBlock('', []), '');
    assert.ok(isHostName('dockerhub.kubekey.local') && !isHostName('10.0.0.5') && !isHostName('fd00::1'));
  });

  it("containerd: hosts.toml in the current format, config_path added only when it is not set", () => {
    const toml = hostsToml('reg.local:8443', 'https', '/etc/containerd/certs.d/reg.local:8443/ca.crt');
    assert.match(toml, /^# managed by kk-registry\nserver = "https:\/\/reg\.local:8443"\n\n\[host\."https:\/\/reg\.local:8443"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}ca = "\/etc\/containerd\/certs\.d\/reg\.local:8443\/ca\.crt"\n$/);
    assert.match(hostsToml('r', 'https', undefined, { Authorization: 'Basic eA==' }), /\[host\."https:\/\/r"\.header\]\n {4}Authorization = "Basic eA=="/);
    assert.equal(withContainerdConfigPath(undefined, '/etc/containerd/certs.d'), 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n');
    const v2 = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  [plugins."io.containerd.grpc.v1.cri".registry.mirrors]\n';
    assert.equal(withContainerdConfigPath(v2, '/d'), 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/d"\n  [plugins."io.containerd.grpc.v1.cri".registry.mirrors]\n');
    assert.match(withContainerdConfigPath('version = 3\n', '/d')!, /\[plugins\."io\.containerd\.cri\.v1\.images"\.registry\]\n {2}config_path = "\/d"/);
    assert.equal(withContainerdConfigPath('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/other"\n', '/d'), undefined, 'a set config_path is kept');
    assert.equal(containerdConfigPath('  config_path = "/etc/other"'), '/etc/other');
  });
});
