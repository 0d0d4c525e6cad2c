import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { resolveArtifact } from '../config/artifacts';
import { registryEndpoint, splitRegistryName } from '../config/derived';
import { ConfigError } from '../config/errors';
import { groupHosts, loadConfig, type LoadOptions } from '../config/load';
import { knownKeyPaths } from '../config/known-keys';
import { maskVariables, MASK } from '../config/mask';
import { parseSetFlags, splitPieces } from '../config/set-parser';
import { PATH_VARIABLES } from '../config/values';
import { variablesSchema } from '../config/variables';
import { generateKey } from './support/sshd';
import { kk } from './support/kk';

const fixtures = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-config-'));

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

function load(options: LoadOptions) {
  return loadConfig({ workdir: path.join(tmp, 'work'), ...options });
}

function problemsOf(options: LoadOptions): string[] {
  try {
    load(options);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be rejected');
}

const sshInventory = (hostsYaml: string, extra = '') => `apiVersion: kubekey.kubesphere.io/v1
kind: Inventory
metadata:
  name: lab
spec:
  hosts:
${hostsYaml}
  groups:
    image_registry:
      hosts: [node1]
${extra}`;

const node1 = `    node1:
      connector:
        host: 10.0.0.11
        password: "123456"
`;

describe('inventory', () => {
  it('loads both inventories of the seed document as they are', () => {
    for (const file of ['seed-harbor-inventory.yaml', 'seed-registry-inventory.yaml']) {
      const config = load({ inventoryPath: path.join(fixtures, file), generateSecrets: false });
      assert.equal(config.inventoryName, 'default');
      assert.deepEqual(config.groups.image_registry, ['localhost']);
      assert.deepEqual(config.groups.k8s_cluster, ['localhost'], 'nested groups expand');
      assert.deepEqual(config.hosts.map((h) => [h.name, h.local]), [['localhost', true]]);
      assert.equal(config.vars.image_registry.type, 'harbor');
    }
  });

  it('resolves connectors: defaults, key content, local type, ordered groups', () => {
    const key = fs.readFileSync(generateKey(tmp, "inline_key"), "utf8");
    const inv = write(
      'full.yaml',
      `apiVersion: kubekey.kubesphere.io/v1
kind: Inventory
metadata: {name: full}
spec:
  hosts:
    node1: {connector: {host: 10.0.0.11, port: "2222", user: ops, password: 123456}, internal_ipv4: 10.0.0.11}
    node2:
      connector:
        host: 10.0.0.12
        private_key_content: |
${key.trim().split('\n').map((l) => '          ' + l).join('\n')}
    here: {connector: {type: local}}
  groups:
    image_registry: {hosts: [node2, node1]}
    all_nodes: {groups: [image_registry], hosts: [here, node1]}
  vars:
    image_registry: {type: docker-registry}
`,
    );
    const config = load({ inventoryPath: inv, generateSecrets: false });
    const [n1, n2, here] = ['node1', 'node2', 'here'].map((n) => config.hosts.find((h) => h.name === n)!);
    assert.deepEqual({ ...n1, password: n1!.password }, { name: 'node1', local: false, address: '10.0.0.11', port: 2222, user: 'ops', password: '123456', internalIPv4: '10.0.0.11', internalIPv6: undefined });
    assert.equal(n2!.user, 'root');
    assert.equal(n2!.port, 22);
    assert.equal(n2!.privateKey?.trim(), key.trim());
    assert.equal(here!.local, true);
    assert.deepEqual(groupHosts(config, 'image_registry').map((h) => h.name), ['node2', 'node1']);
    assert.deepEqual(config.groups.all_nodes, ['here', 'node1', 'node2']);
    assert.equal(config.vars.image_registry.type, 'docker-registry');
  });

  it('reads a private_key path relative to the working directory', () => {
    generateKey(tmp, "id_test");
    const inv = write('keyfile.yaml', sshInventory(`    node1: {connector: {host: 10.0.0.11, private_key: id_test}}\n`));
    const config = load({ inventoryPath: inv, cwd: tmp, generateSecrets: false });
    assert.match(config.hosts[0]!.privateKey!, /BEGIN OPENSSH PRIVATE KEY/);
  });
});

describe('--set', () => {
  it('splits on unescaped commas outside JSON values, and only then unescapes', () => {
    assert.deepEqual(splitPieces('a=1,b=2'), ['a=1', 'b=2']);
    assert.deepEqual(splitPieces('a=x\\,y,b=2'), ['a=x\\,y', 'b=2']);
    assert.deepEqual(splitPieces('items=[1,2,3],c={"k":"v,w","n":[1,2]},d=4'), ['items=[1,2,3]', 'c={"k":"v,w","n":[1,2]}', 'd=4']);
    assert.deepEqual(parseSetFlags(['a=x\\,y,b=2']), { a: 'x,y', b: '2' });
  });

  it('supports dotted keys, [n] indexes, JSON values, escapes, and later wins', () => {
    const tree = parseSetFlags([
      'image_registry.ha_vip=10.0.0.50,list[1].name=second',
      'obj={"a":1,"b":[true,false]},arr=[1,"two"]',
      'esc=tab\\there\\nnl\\\\back\\"q\\\'s',
      'image_registry.ha_vip=10.0.0.51',
      'password=123456',
    ]);
    assert.deepEqual(tree, {
      image_registry: { ha_vip: '10.0.0.51' },
      list: [null, { name: 'second' }],
      obj: { a: 1, b: [true, false] },
      arr: [1, 'two'],
      esc: 'tab\there\nnl\\back"q\'s',
      password: '123456',
    });
  });

  it('maps the seed aliases to canonical names; precedence is defaults < inventory < config < --set', () => {
    const inv = write('prec-inv.yaml', sshInventory(node1, '  vars:\n    image_registry: {harbor_version: v1-inventory, dockercompose_version: v-inv}\n    cri: {docker_version: 20.0.0}\n'));
    const cfg = write('prec-config.yaml', 'apiVersion: kubekey.kubesphere.io/v1\nkind: Config\nspec:\n  harbor_version: v2-config\n  docker_version: 23.0.0\n');
    const config = load({ inventoryPath: inv, configPath: cfg, sets: ['harbor_version=v2.10.1', 'keepalived_version=2.2.7'], generateSecrets: false });
    assert.equal(config.vars.image_registry.harbor_version, 'v2.10.1');
    assert.equal(config.vars.cri.docker_version, '23.0.0');
    assert.equal(config.vars.image_registry.dockercompose_version, 'v-inv');
    assert.equal(config.vars.image_registry.keepalived_version, '2.2.7');
    assert.equal(config.vars.image_registry.auth.username, 'admin', 'defaults apply underneath');
  });

  it('types values by schema: ports become numbers, passwords stay strings, versions keep trailing zeros', () => {
    const inv = write('types.yaml', sshInventory(node1));
    const config = load({ inventoryPath: inv, sets: ['image_registry.https_port=8443,image_registry.auth.password=123456,harbor_version=2.10,image_registry.auth.plain_http=no'] });
    assert.equal(config.vars.image_registry.https_port, 8443);
    assert.equal(config.vars.image_registry.auth.password, '123456');
    assert.equal(config.vars.image_registry.harbor_version, '2.10');
    assert.equal(config.vars.image_registry.auth.plain_http, false);
  });

  it('warns about unknown keys with the nearest known key, without failing', () => {
    const inv = write('unknown.yaml', sshInventory(node1));
    const config = load({ inventoryPath: inv, sets: ['image_registry.ha_vpi=10.0.0.9,harbor_verison=v2'], generateSecrets: false });
    assert.ok(config.warnings.some((w) => w.includes('image_registry.ha_vpi') && w.includes('image_registry.ha_vip')), config.warnings.join('\n'));
    assert.ok(config.warnings.some((w) => w.includes('harbor_verison') && w.includes('harbor_version')), config.warnings.join('\n'));
  });
});

describe('derived values', () => {
  const inv = () => write('derived.yaml', sshInventory(node1 + '    node2: {connector: {host: 10.0.0.12, password: x}, internal_ipv4: 192.168.1.12}\n', ''));

  it('registry endpoint: auth.registry, else ha_vip, else the first registry host', () => {
    const base = load({ inventoryPath: inv(), generateSecrets: false });
    assert.equal(registryEndpoint(base.vars, groupHosts(base, 'image_registry')).address, '10.0.0.11');
    const vip = load({ inventoryPath: inv(), sets: ['image_registry.ha_vip=10.0.0.50'], generateSecrets: false });
    assert.equal(registryEndpoint(vip.vars, groupHosts(vip, 'image_registry')).address, '10.0.0.50');
    const named = load({ inventoryPath: inv(), sets: ['image_registry.auth.registry=reg.local:8443/library'], generateSecrets: false });
    const ep = registryEndpoint(named.vars, groupHosts(named, 'image_registry'));
    assert.deepEqual([ep.host, ep.httpsPort, ep.address, ep.scheme], ['reg.local', 8443, 'reg.local:8443', 'https']);
    const plain = load({ inventoryPath: inv(), sets: ['image_registry.auth.plain_http=true'], generateSecrets: false });
    const p = registryEndpoint(plain.vars, groupHosts(plain, 'image_registry'));
    assert.deepEqual([p.scheme, p.httpPort, p.address], ['http', 80, '10.0.0.11']);
    assert.deepEqual(splitRegistryName('[fd00::1]:5000'), { host: 'fd00::1', port: 5000 });
  });

  it('artifacts: KubeKey layout by default; URL, absolute path, bare name and template overrides', () => {
    const c = load({
      inventoryPath: inv(),
      sets: [
        'docker_version=24.0.7,dockercompose_version=v2.20.3,docker_registry_version=2.8.3,keepalived_version=2.2.7,harbor_version=v2.10.1',
        'artifact.artifact_url.docker_registry.amd64=docker-registry-2.8.3-linux.amd64.tgz',
        'artifact.artifact_url.keepalived.arm64=/srv/k.tgz',
        'artifact.artifact_url.harbor.amd64=http://127.0.0.1:9/harbor.tgz',
        'download.artifact_url.docker_compose=http://artifacts.example/compose-{{ .version }}-{{.arch}}',
      ],
      generateSecrets: false,
    });
    const bin = c.vars.binary_dir;
    assert.equal(bin, path.join(tmp, 'work', 'kubekey'));
    const docker = resolveArtifact('docker', 'amd64', c.vars);
    assert.ok(!('error' in docker));
    assert.equal(docker.localPath, path.join(bin, 'docker/24.0.7/amd64/docker-24.0.7.tgz'));
    const reg = resolveArtifact('docker_registry', 'amd64', c.vars) as { localPath: string };
    assert.equal(reg.localPath, path.join(bin, 'image-registry/docker-registry/2.8.3/amd64/docker-registry-2.8.3-linux.amd64.tgz'));
    assert.equal((resolveArtifact('keepalived', 'arm64', c.vars) as { localPath: string }).localPath, '/srv/k.tgz');
    const harbor = resolveArtifact('harbor', 'amd64', c.vars) as { localPath: string; url: string };
    assert.equal(harbor.url, 'http://127.0.0.1:9/harbor.tgz');
    assert.equal(harbor.localPath, path.join(bin, 'image-registry/harbor/v2.10.1/amd64/harbor-offline-installer-v2.10.1.tgz'));
    assert.equal((resolveArtifact('docker_compose', 'arm64', c.vars) as { url: string }).url, 'http://artifacts.example/compose-v2.20.3-arm64');
    const none = load({ inventoryPath: inv(), generateSecrets: false });
    assert.deepEqual(resolveArtifact('harbor', 'amd64', none.vars), { error: 'image_registry.harbor_version is not set' });
  });
});

describe('secrets', () => {
  it('generates the registry admin password once, 0600, and masks it', () => {
    const inv = write('secret.yaml', sshInventory(node1));
    const work = path.join(tmp, 'secret-work');
    const a = loadConfig({ inventoryPath: inv, workdir: work });
    const b = loadConfig({ inventoryPath: inv, workdir: work });
    assert.equal(a.vars.image_registry.auth.password, b.vars.image_registry.auth.password);
    assert.match(a.vars.image_registry.auth.password!, /^[A-Za-z0-9_-]{24}Aa1$/);
    assert.equal(fs.statSync(a.generatedPasswordFile!).mode & 0o777, 0o600);
    assert.notEqual(a.vars.image_registry.auth.password, 'Harbor12345');
    const masked = maskVariables(a.vars) as { image_registry: { auth: { password: string } } };
    assert.equal(masked.image_registry.auth.password, MASK);
  });
});

describe('bad input: one clear line per problem', () => {
  const cases: [string, () => LoadOptions, RegExp][] = [
    ['missing inventory file', () => ({ inventoryPath: path.join(tmp, 'nope.yaml') }), /^inventory: cannot read .*nope\.yaml: ENOENT$/],
    ['YAML syntax error', () => ({ inventoryPath: write('bad-yaml.yaml', 'apiVersion: [\n') }), /^inventory: .*bad-yaml\.yaml: /],
    ['wrong apiVersion', () => ({ inventoryPath: write('v.yaml', 'apiVersion: v2\nkind: Inventory\n') }), /^apiVersion: "v2" is not kubekey\.kubesphere\.io\/v1$/],
    ['wrong kind', () => ({ inventoryPath: write('k.yaml', 'apiVersion: kubekey.kubesphere.io/v1\nkind: Cluster\n') }), /^kind: "Cluster" must be Inventory$/],
    ['Config passed as inventory', () => ({ inventoryPath: write('c.yaml', 'apiVersion: kubekey.kubesphere.io/v1\nkind: Config\n') }), /kind: Config file; pass it with -c/],
    ['undefined host in a group', () => ({ inventoryPath: write('u.yaml', sshInventory(node1, '    other:\n      hosts: [node9]\n')) }), /^spec\.groups\.other: host "node9" is not defined in spec\.hosts$/],
    ['undefined nested group', () => ({ inventoryPath: write('g.yaml', sshInventory(node1, '    k8s_cluster:\n      groups: [kube_workers]\n')) }), /^spec\.groups\.k8s_cluster\.groups: group "kube_workers" is not defined in spec\.groups$/],
    ['group cycle', () => ({ inventoryPath: write('cy.yaml', sshInventory(node1, '    a: {groups: [b]}\n    b: {groups: [a]}\n')) }), /groups form a cycle/],
    ['port not a number', () => ({ inventoryPath: write('p.yaml', sshInventory('    node1: {connector: {host: h, port: ssh, password: x}}\n')) }), /^spec\.hosts\.node1\.connector\.port: "ssh" is not a port number$/],
    ['port out of range', () => ({ inventoryPath: write('p2.yaml', sshInventory('    node1: {connector: {host: h, port: 70000, password: x}}\n')) }), /^spec\.hosts\.node1\.connector\.port: must be 1-65535$/],
    ['unknown connector type', () => ({ inventoryPath: write('t.yaml', sshInventory('    node1: {connector: {type: winrm, host: h, password: x}}\n')) }), /^spec\.hosts\.node1\.connector\.type: /],
    ['unknown connector key', () => ({ inventoryPath: write('ck.yaml', sshInventory('    node1: {connector: {host: h, passwd: x}}\n')) }), /^spec\.hosts\.node1\.connector: unknown key "passwd"$/],
    ['missing key file', () => ({ inventoryPath: write('kf.yaml', sshInventory('    node1: {connector: {host: h, private_key: /nonexistent/id_rsa}}\n')) }), /^spec\.hosts\.node1\.connector\.private_key: cannot read \/nonexistent\/id_rsa: ENOENT$/],
    ['garbage key content', () => ({ inventoryPath: write('kc.yaml', sshInventory('    node1: {connector: {host: h, private_key_content: "not a key"}}\n')) }), /^spec\.hosts\.node1\.connector\.private_key_content: not a usable private key/],
    ['bad internal_ipv4', () => ({ inventoryPath: write('ip.yaml', sshInventory('    node1: {connector: {host: h, password: x}, internal_ipv4: 10.0.0.256}\n')) }), /^spec\.hosts\.node1\.internal_ipv4: "10\.0\.0\.256" is not an IP address$/],
    ['groups.hosts not a list', () => ({ inventoryPath: write('gl.yaml', sshInventory(node1, '    other:\n      hosts: node1\n')) }), /^spec\.groups\.other\.hosts: must be array, not string "node1"$/],
    ['bad host name', () => ({ inventoryPath: write('hn.yaml', sshInventory('    "node 1": {connector: {host: h, password: x}}\n')) }), /^spec\.hosts\.node 1: host names must be/],
    ['ha_vip not an IP', () => ({ inventoryPath: write('ok1.yaml', sshInventory(node1)), sets: ['image_registry.ha_vip=10.0.0.300'] }), /^image_registry\.ha_vip: "10\.0\.0\.300" is not an IP address$/],
    ['unknown registry type', () => ({ inventoryPath: write('ok2.yaml', sshInventory(node1)), sets: ['image_registry.type=quay'] }), /^image_registry\.type: /],
    ['https_port not a number', () => ({ inventoryPath: write('ok3.yaml', sshInventory(node1)), sets: ['image_registry.https_port=https'] }), /^image_registry\.https_port: "https" is not a port number$/],
    ['plain_http not a boolean', () => ({ inventoryPath: write('ok4.yaml', sshInventory(node1)), sets: ['image_registry.auth.plain_http=maybe'] }), /^image_registry\.auth\.plain_http: "maybe" is not a boolean/],
    ['--set without =', () => ({ inventoryPath: write('ok5.yaml', sshInventory(node1)), sets: ['harbor_version'] }), /^--set "harbor_version": expected key=value$/],
    ['--set with broken JSON', () => ({ inventoryPath: write('ok6.yaml', sshInventory(node1)), sets: ['a={"x":'] }), /^--set "a=\{\\"x\\":": value is not valid JSON/],
    ['--set with a bad key path', () => ({ inventoryPath: write('ok7.yaml', sshInventory(node1)), sets: ['a..b=1'] }), /^--set "a\.\.b=1": "a\.\.b" is not a valid key path$/],
    ['config of the wrong kind', () => ({ inventoryPath: write('ok8.yaml', sshInventory(node1)), configPath: write('cfg.yaml', 'kind: Inventory\nspec: {}\n') }), /^config\.kind: "Inventory" must be Config$/],
    ['config spec not a mapping', () => ({ inventoryPath: write('ok9.yaml', sshInventory(node1)), configPath: write('cfg2.yaml', 'kind: Config\nspec: [1]\n') }), /^config\.spec: must be a mapping of variables$/],
    ['artifact arch unknown', () => ({ inventoryPath: write('ok10.yaml', sshInventory(node1)), sets: ['artifact.artifact_url.harbor.x86=foo.tgz'] }), /^artifact\.artifact_url\.harbor: unknown key "x86"$/],
    ['virtual router id out of range', () => ({ inventoryPath: write('ok11.yaml', sshInventory(node1)), sets: ['image_registry.keepalived.virtual_router_id=300'] }), /^image_registry\.keepalived\.virtual_router_id: must be 1-255$/],
  ];
  for (const [name, options, expected] of cases) {
    it(name, () => {
      const problems = problemsOf(options());
      assert.ok(problems.some((p) => expected.test(p)), `no line matched ${expected}:\n${problems.join('\n')}`);
      for (const p of problems) assert.ok(!p.includes('\n') && !/at .*\.ts:\d+/.test(p), `not one clean line: ${p}`);
    });
  }

  it('reports every problem at once', () => {
    const problems = problemsOf({ inventoryPath: write('many.yaml', sshInventory('    node1: {connector: {host: h, port: 0, password: x}, internal_ipv4: nope}\n')), sets: ['image_registry.ha_vip=x'] });
    assert.ok(problems.length >= 3, problems.join('\n'));
  });
});

describe('HA: keepalived takes IP addresses', () => {
  const two = (node2: string) => sshInventory(`${node1}    node2: ${node2}\n`, '').replace('hosts: [node1]', 'hosts: [node1, node2]');

  it('a registry host known only by a DNS name is refused with ha_vip (path: problem), and accepted with internal_ipv4', () => {
    const named = write('ha-name.yaml', two('{connector: {host: reg2.example.com, password: x}}'));
    const problems = problemsOf({ inventoryPath: named, sets: ['image_registry.ha_vip=10.0.0.50'], generateSecrets: false });
    assert.ok(problems.some((p) => /^spec\.hosts\.node2\.connector\.host: "reg2\.example\.com" is a host name, but keepalived \(image_registry\.ha_vip\) takes IP addresses only: set spec\.hosts\.node2\.internal_ipv4/.test(p)), problems.join('\n'));
    assert.equal(problems.length, 1, problems.join('\n'));
    // Without HA a name is fine (SSH and the registry endpoint take it).
    assert.equal(load({ inventoryPath: named, generateSecrets: false }).hosts.find((h) => h.name === 'node2')!.address, 'reg2.example.com');
    const withIp = load({ inventoryPath: write('ha-ip.yaml', two('{connector: {host: reg2.example.com, password: x}, internal_ipv4: 10.0.0.12}')), sets: ['image_registry.ha_vip=10.0.0.50'], generateSecrets: false });
    assert.equal(withIp.vars.image_registry.ha_vip, '10.0.0.50');
  });

  it('a host without connector.host (its name is its address) and a local host without internal_ipv4 are refused too', () => {
    const inv = write('ha-bare.yaml', two('{connector: {password: x}}').replace('hosts: [node1, node2]', 'hosts: [node1, node2, localhost]'));
    const problems = problemsOf({ inventoryPath: inv, sets: ['image_registry.ha_vip=10.0.0.50'], generateSecrets: false });
    assert.ok(problems.some((p) => /^spec\.hosts\.node2: "node2" is a host name/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /^spec\.hosts\.localhost: a local host in the HA set .* not 127\.0\.0\.1/.test(p)), problems.join('\n'));
  });

  it('the CLI exits 2 with the problem and changes nothing', async () => {
    const named = write('ha-cli.yaml', two('{connector: {host: reg2.example.com, password: x}}'));
    const r = await kk(['precheck', 'image_registry', '-i', named, '--workdir', path.join(tmp, 'work-cli'), '--set', 'image_registry.ha_vip=10.0.0.50']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /spec\.hosts\.node2\.connector\.host: "reg2\.example\.com" is a host name/);
  });

  it('ha_vip is kept in the canonical form hosts print (IPv6 lower-cased and compressed; IPv4 as written)', () => {
    const inv = write('ha-v6.yaml', sshInventory(node1));
    for (const [given, canonical] of [['FD00::100', 'fd00::100'], ['fd00:0::100', 'fd00::100'], ['fd00:0000:0000:0000:0000:0000:0000:0100', 'fd00::100'], ['10.0.0.50', '10.0.0.50']]) {
      assert.equal(load({ inventoryPath: inv, sets: [`image_registry.ha_vip=${given}`], generateSecrets: false }).vars.image_registry.ha_vip, canonical, given);
    }
  });
});

describe('local hosts carry their inventory (their task queue is per inventory)', () => {
  it("a local host names its inventory's metadata.name; SSH hosts do not; a metadata.name unfit for a queue name is refused", () => {
    const inv = write('local-inv.yaml', sshInventory(node1).replace('name: lab', 'name: alice').replace('hosts: [node1]', 'hosts: [node1, localhost]'));
    const c = load({ inventoryPath: inv, generateSecrets: false });
    assert.deepEqual(c.hosts.map((h) => [h.name, h.inventory]), [['node1', undefined], ['localhost', 'alice']]);
    const bad = write('local-bad.yaml', sshInventory(node1).replace('name: lab', 'name: "a/b"').replace('hosts: [node1]', 'hosts: [node1, localhost]'));
    assert.ok(problemsOf({ inventoryPath: bad, generateSecrets: false }).some((p) => /^metadata\.name: "a\/b" names the task queue of local host localhost/.test(p)));
  });
});

describe('YAML scalars keep the text as written', () => {
  it('versions keep trailing zeros, passwords leading zeros; numeric fields still become numbers', () => {
    const inv = write(
      'scalars.yaml',
      sshInventory(
        '    node1: {connector: {host: 10.0.0.11, port: 2222, password: 0123456}}\n',
        '  vars:\n    docker_version: 20.10\n    image_registry:\n      harbor_version: 2.10\n      keepalived: {virtual_router_id: 051}\n      auth: {password: 000123}\n    precheck: {min_memory_mb: 1024}\n',
      ),
    );
    const c = load({ inventoryPath: inv, generateSecrets: false });
    assert.equal(c.hosts[0]!.password, '0123456');
    assert.equal(c.hosts[0]!.port, 2222);
    assert.equal(c.vars.cri.docker_version, '20.10');
    assert.equal(c.vars.image_registry.harbor_version, '2.10');
    assert.equal(c.vars.image_registry.auth.password, '000123');
    assert.equal(c.vars.image_registry.keepalived.virtual_router_id, 51);
    assert.equal(c.vars.precheck.min_memory_mb, 1024);
  });
});

describe('values are checked for the formats they go into', () => {
  const inv = () => write('formats.yaml', sshInventory(node1));
  const oneLine = (problems: string[]) => problems.forEach((p) => assert.ok(!p.includes('\n') && !p.includes('\r'), `not one line: ${JSON.stringify(p)}`));

  it('every *_version variable must be a plain version: a newline cannot add a line to a unit', () => {
    const versions = knownKeyPaths(variablesSchema).filter((k) => k.endsWith('_version'));
    assert.ok(versions.length >= 5, versions.join(', '));
    for (const key of versions) {
      for (const bad of ['24.0.7\\nExecStartPre=/bin/sh -c id', '2.8.3 latest', 'v1;reboot', '../../etc']) {
        const problems = problemsOf({ inventoryPath: inv(), sets: [`${key}=${bad}`] });
        assert.ok(problems.some((p) => p.startsWith(`${key}: `) && p.includes('must be letters, digits')), `${key}=${bad}:\n${problems.join('\n')}`);
        oneLine(problems);
      }
    }
    // Through the seed's aliases and YAML too.
    const yaml = write('bad-version.yaml', sshInventory(node1, '  vars:\n    docker_version: "20.10\\nExecStartPre=/bin/true"\n'));
    assert.ok(problemsOf({ inventoryPath: yaml }).some((p) => p.startsWith('cri.docker_version: ')));
    assert.equal(load({ inventoryPath: inv(), sets: ['docker_version=24.0.7+dfsg-1_x'], generateSecrets: false }).vars.cri.docker_version, '24.0.7+dfsg-1_x');
  });

  it('every path variable must be absolute and without whitespace', () => {
    for (const key of PATH_VARIABLES.filter((k) => k !== 'work_dir')) {
      for (const bad of ['relative/dir', '/srv/my data']) {
        // binary_dir is resolved against the working directory, so only whitespace can be wrong with it.
        if (key === 'binary_dir' && bad === 'relative/dir') continue;
        const problems = problemsOf({ inventoryPath: inv(), sets: [`${key}=${bad}`] });
        assert.ok(problems.some((p) => p.startsWith(`${key}: `) && p.includes('must be an absolute path without whitespace')), `${key}=${bad}:\n${problems.join('\n')}`);
      }
    }
    const spaced = problemsOf({ inventoryPath: inv(), workdir: path.join(tmp, 'my work') });
    assert.ok(spaced.some((p) => p.startsWith('work_dir: ')), spaced.join('\n'));
    assert.equal(load({ inventoryPath: inv(), sets: ['image_registry.docker_registry.storage.filesystem.nfs_mount=/srv/nfs/registry'], generateSecrets: false }).vars.image_registry.docker_registry.storage.filesystem.nfs_mount, '/srv/nfs/registry');
  });

  it('control characters are refused in every variable, known or not, and every inventory host field', () => {
    const problems = problemsOf({
      inventoryPath: write(
        'controls.yaml',
        sshInventory(
          '    node1: {connector: {host: "10.0.0.11\\n", user: "ops\\r", password: "s3cret\\nline"}, note: "a\\tb"}\n',
          '  vars:\n    custom: {list: ["ok", "bad\\u0007"]}\n',
        ),
      ),
      sets: ['image_registry.auth.username=ad\\nmin', 'image_registry.ha_vip=10.0.0.50'],
    });
    for (const where of ['spec.hosts.node1.connector.host', 'spec.hosts.node1.connector.user', 'spec.hosts.node1.connector.password', 'spec.hosts.node1.note', 'custom.list[1]', 'image_registry.auth.username']) {
      assert.ok(problems.some((p) => p.startsWith(`${where}: contains a control character`)), `${where}:\n${problems.join('\n')}`);
    }
    assert.ok(!problems.some((p) => p.includes('s3cret')), 'the password is not echoed');
    oneLine(problems);
  });

  it('a host address must be a host name or an IP address: it goes into fstab and keepalived.conf as one word', async () => {
    for (const bad of ['10.0.0.11 10.0.0.12', 'reg.example.com #', '-oProxyCommand=id', 'node1;reboot', 'a..b', '10.0.0.11/24']) {
      const problems = problemsOf({ inventoryPath: write('addr.yaml', sshInventory(`    node1: {connector: {host: ${JSON.stringify(bad)}, password: x}}\n`)) });
      assert.ok(problems.includes(`spec.hosts.node1.connector.host: ${JSON.stringify(bad)} is not a host name or IP address`), `${bad}:\n${problems.join('\n')}`);
      oneLine(problems);
    }
    for (const good of ['10.0.0.11', 'fd00::11', 'reg-1.example.com', 'node_1', 'reg.example.com.']) {
      assert.equal(load({ inventoryPath: write('addr-ok.yaml', sshInventory(`    node1: {connector: {host: ${JSON.stringify(good)}, password: x}}\n`)), generateSecrets: false }).hosts[0]!.address, good);
    }
    // The CLI: exit 2, the path and the problem, nothing started.
    const r = await kk(['precheck', 'image_registry', '-i', write('addr-cli.yaml', sshInventory('    node1: {connector: {host: "10.0.0.11 10.0.0.12", password: x}}\n')), '--workdir', path.join(tmp, 'addr-work')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /spec\.hosts\.node1\.connector\.host: "10\.0\.0\.11 10\.0\.0\.12" is not a host name or IP address/);
  });

  it('a private key may span lines; only other control characters are refused there', () => {
    const key = fs.readFileSync(generateKey(tmp, 'multiline_key'), 'utf8');
    const indented = key.trim().split('\n').map((l) => '          ' + l).join('\n');
    const ok = write('pem.yaml', sshInventory(`    node1:\n      connector:\n        host: 10.0.0.11\n        private_key_content: |\n${indented}\n`));
    assert.match(load({ inventoryPath: ok, generateSecrets: false }).hosts[0]!.privateKey!, /BEGIN OPENSSH PRIVATE KEY/);
    const bad = write('pem-bell.yaml', sshInventory('    node1: {connector: {host: 10.0.0.11, private_key_content: "-----BEGIN\\u0007"}}\n'));
    assert.ok(problemsOf({ inventoryPath: bad }).some((p) => p.startsWith('spec.hosts.node1.connector.private_key_content: contains a control character')));
  });
});

describe('--set errors never show a secret', () => {
  const secret = 'hunter2-Secret';
  const cases = [
    `image_registry.auth.password=[${secret}`,
    `image_registry.auth={"password":"${secret}",`,
    `image_registry..auth.password=${secret}`,
    `image_registry.docker_registry.storage.s3.secretkey={${secret}`,
    `image_registry.docker_registry.storage.azure.accountkey=[${secret}`,
    `my_api_token={"t":"${secret}"`,
  ];
  for (const piece of cases) {
    it(piece.replace(secret, '…'), () => {
      const problems = problemsOf({ inventoryPath: write('mask.yaml', sshInventory(node1)), sets: [piece] });
      assert.ok(problems.some((p) => p.startsWith('--set ') && p.includes(MASK)), problems.join('\n'));
      for (const p of problems) assert.ok(!p.includes(secret) && !p.includes('hunter2'), `leaks the value: ${p}`);
    });
  }

  it('values under other keys are still shown, to help fix them', () => {
    const problems = problemsOf({ inventoryPath: write('mask2.yaml', sshInventory(node1)), sets: ['image_registry.ha_vip=[10.0.0.1'] });
    assert.ok(problems.some((p) => p.includes('[10.0.0.1')), problems.join('\n'));
  });
});

