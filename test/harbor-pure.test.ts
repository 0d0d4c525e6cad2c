import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { waitHarborHealthy } from '../activities/install/harbor';
import { isHostFailure } from '../activities/ssh/errors';
import type { ExecOptions, ExecResult, HostSession } from '../activities/ssh/session';
import type { HostFacts } from '../precheck/host-facts';
import { hostFacts, hostProbe } from './support/host-facts';
import type { HostTarget } from '../config/hosts';
import { loadConfig } from '../config/load';
import { harborLayout } from '../registry/harbor/layout';
import { HARBOR_DEFAULT_PASSWORDS, renderHarborYml } from '../registry/harbor/render';
import { initRegistryInput } from '../registry/input';
import type { HarborNodeInput, HarborSettings } from '../registry/types';
import { artifactChecks, hostChecks } from '../precheck/evaluate';
import { precheckInput } from '../precheck/input';
import type { HostProbe } from '../precheck/types';

/**
 * Harbor's pure pieces: harbor.yml from the installer's template, the inputs that decide its hostname, precheck's
 * judgements for Harbor, and the health gate's timeout message.
 */
const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-harbor-pure-'));
const HARBOR_SETS = 'harbor_version=v2.10.1,docker_version=24.0.7,dockercompose_version=v2.20.3';

/** Every leaf key path of a YAML document (`a.b.c`; a sequence is a leaf). */
function keyPaths(node: Node | null | undefined, prefix = ''): string[] {
  if (!isMap(node)) return prefix ? [prefix] : [];
  return node.items.flatMap((pair) => {
    const key = `${prefix}${prefix ? '.' : ''}${String(isScalar(pair.key) ? pair.key.value : pair.key)}`;
    return isMap(pair.value) ? keyPaths(pair.value, key) : [key];
  });
}

describe('harbor.yml from the installer\'s harbor.yml.tmpl', () => {
  // The lab stand-in's template has the keys (and defaults) of Harbor v2.10's own.
  const template = fs.readFileSync(path.join(__dirname, '..', 'lab', 'harbor-standin', 'installer', 'harbor.yml.tmpl'), 'utf8');
  const layout = harborLayout('v2.10.1');
  const settings: HarborSettings = { hostname: '10.0.0.11', httpPort: 8080, httpsPort: 8443, dataDir: '/srv/harbor/data', adminPassword: 'Admin-Pass-1x', databasePassword: 'Db-Pass-2y', replicationSecret: 'Repl-Secret-3z' };

  it('keeps every key path of the template and sets only what kk decides', () => {
    const out = renderHarborYml(template, settings, layout, false);
    const doc = parseDocument(out);
    const kept = new Set(keyPaths(doc.contents));
    for (const key of keyPaths(parseDocument(template).contents)) assert.ok(kept.has(key), `template key ${key} kept`);
    assert.deepEqual([...kept].filter((k) => !keyPaths(parseDocument(template).contents).includes(k)), ['storage_service.ca_bundle'], 'the only key kk adds');
    assert.equal(doc.get('hostname'), '10.0.0.11');
    assert.equal(doc.getIn(['http', 'port']), 8080);
    assert.equal(doc.getIn(['https', 'port']), 8443);
    assert.equal(doc.getIn(['https', 'certificate']), `${layout.ssl}/server.crt`);
    assert.equal(doc.getIn(['https', 'private_key']), `${layout.ssl}/server.key`);
    assert.equal(doc.getIn(['storage_service', 'ca_bundle']), `${layout.ssl}/ca.crt`);
    assert.equal(doc.get('data_volume'), '/srv/harbor/data');
    assert.equal(doc.get('harbor_admin_password'), 'Admin-Pass-1x');
    assert.equal(doc.getIn(['database', 'password']), 'Db-Pass-2y');
    // Untouched values and comments stay as the template has them.
    assert.equal(doc.getIn(['database', 'max_open_conns']), 900);
    assert.equal(doc.get('_version'), '2.10.0');
    assert.ok(isSeq(doc.getIn(['jobservice', 'job_loggers'], true)));
    assert.match(out, /# The initial password of Harbor admin/);
    for (const p of HARBOR_DEFAULT_PASSWORDS) assert.ok(!out.includes(p), `${p} in the output`);
    assert.ok(!out.includes('Repl-Secret-3z'), 'the replication secret is not harbor.yml\'s');
  });

  it('plain_http drops the https block and keeps http; a password with YAML characters stays one value', () => {
    const odd = { ...settings, adminPassword: 'a: b #c\'"Z9', databasePassword: '- [x] {y}Q1' };
    const doc = parseDocument(renderHarborYml(template, odd, layout, true));
    assert.equal(doc.get('https'), undefined);
    assert.equal(doc.getIn(['http', 'port']), 8080);
    assert.equal(doc.get('harbor_admin_password'), odd.adminPassword);
    assert.equal(doc.getIn(['database', 'password']), odd.databasePassword);
    for (const p of HARBOR_DEFAULT_PASSWORDS) assert.ok(!doc.toString().includes(p));
  });

  it('hostname: the endpoint on one node, each node\'s own address in HA', async () => {
    const inventory = path.join(workdir, 'inventory.yaml');
    fs.writeFileSync(
      inventory,
      `apiVersion: kubekey.kubesphere.io/v1
kind: Inventory
metadata: {name: harbor-pure}
spec:
  hosts:
    reg1: {connector: {host: 10.0.0.11, user: root, password: pw}}
    reg2: {connector: {host: 10.0.0.12, user: root, password: pw}}
  groups:
    image_registry: {hosts: [reg1, reg2]}
`,
    );
    const load = (...sets: string[]) => loadConfig({ inventoryPath: inventory, sets: [HARBOR_SETS, ...sets], workdir, generateSecrets: true });
    const ha = await initRegistryInput(load('image_registry.ha_vip=10.0.0.100,keepalived_version=2.0.20'));
    assert.deepEqual(ha.nodes.map((n) => (n as HarborNodeInput).harbor.hostname), ['10.0.0.11', '10.0.0.12']);
    const single = await initRegistryInput(load());
    const endpoint = single.endpoint.replace(/:\d+$/, '');
    assert.deepEqual(single.nodes.map((n) => (n as HarborNodeInput).harbor.hostname), [endpoint, endpoint]);
    // The generated database password is neither default, and the same on every node and every run.
    const db = ha.nodes.map((n) => (n as HarborNodeInput).harbor.databasePassword);
    assert.equal(new Set([...db, ...single.nodes.map((n) => (n as HarborNodeInput).harbor.databasePassword)]).size, 1);
    assert.ok(!HARBOR_DEFAULT_PASSWORDS.includes(db[0]!));
  });
});

describe('precheck for Harbor', () => {
  const config = loadConfig({ inventoryPath: path.join(__dirname, 'fixtures', 'seed-registry-inventory.yaml'), sets: [HARBOR_SETS, 'image_registry.harbor.data_dir=/data/harbor'], workdir, generateSecrets: true });
  const input = precheckInput(config);
  const host = input.registryHosts[0]!;
  const facts = hostFacts({ cpus: 4, memoryMb: 8192, filesystems: [{ mount: '/', device: 'd', fsType: 'ext4', sizeMb: 500_000, freeMb: 400_000 }] });
  const probe = (over: Partial<HostProbe> = {}, factsOver: Partial<HostFacts> = {}): HostProbe => hostProbe({ ...facts, ...factsOver }, over);
  const check = (name: string, p: HostProbe, i = input) => hostChecks(i, host, p).filter((c) => c.check === name);

  it('checks both the http and the https port; a foreign holder of either fails, naming it', () => {
    assert.deepEqual(input.registryPorts, [80, 443]);
    assert.deepEqual(check('ports', probe()).map((c) => [c.status, c.message]), [['pass', '80, 443 free']]);
    for (const port of [80, 443]) {
      const [c] = check('ports', probe({ listening: [port], portHolders: { [port]: 'nginx (pid 42)' } }));
      assert.equal(c!.status, 'fail', String(port));
      assert.match(c!.message, new RegExp(`port ${port} \\(nginx \\(pid 42\\)\\) already in use`));
    }
    // Held by kk's own Harbor: a re-run.
    assert.equal(check('ports', probe({ listening: [80, 443] }, { servicesByKk: { harbor: true, dockerRegistry: false }, services: { harbor: true, dockerRegistry: false } }))[0]!.status, 'pass');
  });

  it('checks free space under image_registry.harbor.data_dir, on the filesystem that holds it', () => {
    assert.equal(input.localDataDir, '/data/harbor');
    const small = [...facts.filesystems, { mount: '/data', device: 'e', fsType: 'xfs', sizeMb: 2048, freeMb: 1024 }];
    const [c] = check('disk', probe({}, { filesystems: small }), { ...input, thresholds: { ...input.thresholds, minDataDiskGb: 10 } });
    assert.equal(c!.status, 'fail');
    assert.match(c!.message, /1\.0 GB free on \/data \(holds \/data\/harbor\), at least 10 GB needed/);
    assert.equal(check('disk', probe(), { ...input, thresholds: { ...input.thresholds, minDataDiskGb: 10 } })[0]!.status, 'pass', 'the root filesystem has room');
  });

  it('a kept non-kk Docker below 20.10.10, or a compose below 1.18.0, fails naming the version Harbor\'s installer needs', () => {
    const oldDocker = check('harbor', probe({}, { docker: { version: '20.10.9', active: true, path: '/usr/bin/docker', managedByKk: false } }));
    assert.deepEqual(oldDocker.map((c) => c.status), ['fail', 'pass']);
    assert.match(oldDocker[0]!.message, /Harbor's installer needs docker 20\.10\.10 or later; this host would run 20\.10\.9/);
    // kk's own old Docker is replaced by the wanted one: nothing to refuse.
    assert.deepEqual(check('harbor', probe({}, { docker: { version: '20.10.9', active: true, path: '/usr/local/bin/docker', managedByKk: true } })).map((c) => c.status), ['pass', 'pass']);
    const keptCompose = { ...input, versions: { ...input.versions, docker_compose: undefined } };
    const oldCompose = check('harbor', probe({}, { dockerCompose: { version: '1.17.1' } }), keptCompose);
    assert.deepEqual(oldCompose.map((c) => c.status), ['pass', 'fail']);
    assert.match(oldCompose[1]!.message, /Harbor's installer needs docker-compose 1\.18\.0 or later; this host would run 1\.17\.1/);
    assert.equal(check('harbor', probe(), { ...input, versions: { ...input.versions, docker_compose: 'v1.17.0' } })[1]!.status, 'fail', 'a wanted compose too old');
  });

  it('the installer artifact with a .sha256 that does not match fails', () => {
    const need = input.artifactsByArch.amd64!.find((n) => n.name === 'harbor')!;
    assert.ok(need, JSON.stringify(input.artifactsByArch.amd64));
    const [bad] = artifactChecks([{ need, present: true, sha256: { expected: 'a'.repeat(64), actual: 'b'.repeat(64) } }], {});
    assert.equal(bad!.status, 'fail');
    assert.match(bad!.message, new RegExp(`harbor v2\\.10\\.1 amd64: .*harbor-offline-installer-v2\\.10\\.1\\.tgz has sha256 b{64}, its \\.sha256 file says a{64}`));
    assert.equal(artifactChecks([{ need, present: true, sha256: { expected: 'a'.repeat(64), actual: 'a'.repeat(64) } }], {})[0]!.status, 'pass');
  });
});

describe('Harbor health gate', () => {
  /** A host where `curl -K -` answers Harbor's recorded unhealthy health, or fails as curl does with nothing listening. */
  class CurlStub implements HostSession {
    readonly target: HostTarget = { name: 'reg1', local: false, address: '10.0.0.11', port: 22, user: 'root' };
    constructor(private readonly answer: () => ExecResult) {}
    async exec(cmd: string, _options?: ExecOptions): Promise<ExecResult> {
      assert.equal(cmd, 'curl -K -');
      return this.answer();
    }
    upload(): never {
      throw new Error('no uploads here');
    }
    close() {}
  }
  const recording = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'harbor-api', 'health_unhealthy_jobservice_portal_registryctl_down.json'), 'utf8')) as { response: { body: unknown } };
  const input = { versions: { registry: 'v2.10.1' }, plainHttp: false, harbor: { httpsPort: 443, httpPort: 80, adminPassword: 'Admin-Pass-1x' } } as HarborNodeInput;

  it('a timeout names the components that are not healthy and the last answer', async () => {
    const session = new CurlStub(() => ({ code: 0, stdout: `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(recording.response.body)}\n@@kk-curl-status 200`, stderr: '' }));
    await assert.rejects(waitHarborHealthy(session, input, new AbortController().signal, 50), (e: unknown) => {
      assert.ok(isHostFailure(e, 'NotReady'), String(e));
      const m = (e as Error).message;
      assert.match(m, /reg1.*Harbor is not healthy after 0\.05s: status unhealthy, not healthy: jobservice \(failed to check health: .*connection refused\), portal \(.*\), registryctl \(.*\)/);
      assert.doesNotMatch(m, /core|database|redis/, 'healthy components are not named');
      assert.ok(!m.includes('Admin-Pass-1x'));
      return true;
    });
  });

  it('with no answer at all, the last answer is curl\'s error', async () => {
    const session = new CurlStub(() => ({ code: 7, stdout: '', stderr: 'curl: (7) Failed to connect to 127.0.0.1 port 443: Connection refused' }));
    await assert.rejects(waitHarborHealthy(session, input, new AbortController().signal, 50), (e: unknown) => isHostFailure(e, 'NotReady') && /not healthy after 0\.05s: .*Connection refused/.test((e as Error).message));
  });
});
