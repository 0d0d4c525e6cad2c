import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ensureRegistryPki } from '../pki';
import {
  KEEPALIVED_CHECK_MODE,
  KEEPALIVED_CONTAINER_CA,
  KEEPALIVED_CONTAINER_CHECK,
  KEEPALIVED_CONTAINER_CONF,
  keepalivedCheckScript,
  keepalivedCompose,
  keepalivedConf,
  type KeepalivedSettings,
} from '../registry/render';

/** What keepalived gets on a registry node, rendered: the compose file, keepalived.conf and the health-check script. */

const settings: KeepalivedSettings = {
  version: '2.0.20',
  vip: '10.0.0.100',
  prefix: 24,
  interface: 'ens3',
  self: { name: 'reg-1', address: '10.0.0.11' },
  peers: [{ name: 'reg-2', address: '10.0.0.12' }, { name: 'reg-3', address: '10.0.0.13' }],
  priority: 150,
  virtualRouterId: 51,
  authPass: 's3cretpw',
  healthUrl: 'https://127.0.0.1:443/v2/',
};
const DIR = '/opt/keepalived/2.0.20';

interface ComposeService {
  image: string;
  network_mode: string;
  cap_add: string[];
  command: string;
  labels: Record<string, string>;
  volumes: string[];
  restart: string;
}
const serviceOf = (k: KeepalivedSettings) => (parse(keepalivedCompose(k, DIR)) as { services: { keepalived: ComposeService } }).services.keepalived;

describe('keepalived compose file', () => {
  it('mounts the config at osixia/keepalived assets path, read-only, and starts the image with --copy-service', () => {
    const svc = serviceOf(settings);
    assert.equal(svc.image, 'osixia/keepalived:2.0.20');
    assert.equal(svc.command, '--copy-service');
    assert.ok(svc.volumes.includes(`${DIR}/keepalived.conf:${KEEPALIVED_CONTAINER_CONF}:ro`), svc.volumes.join('\n'));
    assert.equal(KEEPALIVED_CONTAINER_CONF, '/container/service/keepalived/assets/keepalived.conf');
    // The image replaces /etc/keepalived/keepalived.conf with a link on first start: nothing may be mounted there.
    assert.ok(!svc.volumes.some((v) => v.split(':')[1] === '/etc/keepalived/keepalived.conf'), svc.volumes.join('\n'));
  });

  it('mounts the check script and the CA read-only where the config and the script expect them', () => {
    const svc = serviceOf(settings);
    assert.ok(svc.volumes.includes(`${DIR}/check-registry.sh:${KEEPALIVED_CONTAINER_CHECK}:ro`), svc.volumes.join('\n'));
    assert.ok(svc.volumes.includes(`${DIR}/ca.crt:${KEEPALIVED_CONTAINER_CA}:ro`), svc.volumes.join('\n'));
    assert.ok(svc.volumes.every((v) => v.endsWith(':ro')), 'every mount is read-only');
    assert.equal(KEEPALIVED_CHECK_MODE & 0o077, 0, 'nobody but root may write (or read) the script: enable_script_security');
  });

  it('runs on the host network with the capabilities VRRP needs, restarted always', () => {
    const svc = serviceOf(settings);
    assert.equal(svc.network_mode, 'host');
    assert.deepEqual([...svc.cap_add].sort(), ['NET_ADMIN', 'NET_BROADCAST', 'NET_RAW']);
    assert.equal(svc.restart, 'always');
  });

  it('changes when the config or the check changes, so compose recreates the container (its --copy-service copy is made once)', () => {
    const digest = (k: KeepalivedSettings) => Object.values(serviceOf(k).labels).join();
    assert.match(digest(settings), /^[0-9a-f]{64}$/);
    assert.equal(digest(settings), digest({ ...settings, peers: [...settings.peers] }), 'the same settings give the same file');
    assert.notEqual(digest(settings), digest({ ...settings, priority: 149 }));
    assert.notEqual(digest(settings), digest({ ...settings, healthUrl: 'https://127.0.0.1:5443/v2/' }));
  });
});

describe('keepalived.conf', () => {
  const conf = keepalivedConf(settings);

  it('tracks the registry with the mounted check script, under script security', () => {
    assert.match(conf, new RegExp(`vrrp_script registry_health \\{\\n  script "${KEEPALIVED_CONTAINER_CHECK}"\\n`));
    assert.match(conf, /track_script \{\n    registry_health\n  \}/);
    assert.match(conf, /script_user root\n  enable_script_security/);
  });

  it('speaks unicast VRRP from this node to its peers and holds the VIP on the interface', () => {
    assert.match(conf, /unicast_src_ip 10\.0\.0\.11\n/);
    assert.match(conf, /unicast_peer \{\n    10\.0\.0\.12\n    10\.0\.0\.13\n  \}/);
    assert.match(conf, /virtual_ipaddress \{\n    10\.0\.0\.100\/24 dev ens3\n  \}/);
    assert.match(conf, /interface ens3\n  virtual_router_id 51\n  priority 150\n/);
    assert.match(conf, /auth_pass s3cretpw\n/);
    // Filled in by kk: none of the image's {{ keepalived_* }} placeholders are left for its startup to fill.
    assert.doesNotMatch(conf, /\{\{/);
  });

  it('a group of one (ha_vip on a single registry host) has no unicast_peer block and still holds the VIP', () => {
    const alone = keepalivedConf({ ...settings, peers: [] });
    assert.doesNotMatch(alone, /unicast_peer/);
    assert.match(alone, /unicast_src_ip 10\.0\.0\.11\n  virtual_ipaddress \{\n    10\.0\.0\.100\/24 dev ens3\n  \}/);
  });
});

describe('keepalived health-check script', () => {
  // The script is run here as it is rendered, with curl from this machine, against a TLS server signed by a test CA;
  // only the CA's container path is pointed at the test CA.
  let server: https.Server;
  let port = 0;
  let answer = 200;
  let harborBody = '';
  let dir = '';
  let caFile = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-keepalived-check-'));
    const pki = await ensureRegistryPki(dir, ['127.0.0.1']);
    caFile = path.join(dir, 'ca.crt');
    fs.writeFileSync(caFile, pki.caCert);
    server = https.createServer({ cert: pki.serverCert, key: pki.serverKey }, (req, res) => {
      if (req.url === '/api/v2.0/health') {
        res.statusCode = answer;
        res.setHeader('content-type', 'application/json');
        return res.end(harborBody);
      }
      res.statusCode = req.url === '/v2/' ? answer : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function check(url: string, ca = caFile): Promise<number> {
    const script = keepalivedCheckScript({ healthUrl: url }).replaceAll(KEEPALIVED_CONTAINER_CA, ca);
    return promisify(execFile)('sh', ['-c', script]).then(() => 0, (e: { code: number }) => e.code);
  }

  it('passes on 200 and on 401 (a registry that requires authentication is healthy)', async () => {
    answer = 200;
    assert.equal(await check(`https://127.0.0.1:${port}/v2/`), 0);
    answer = 401;
    assert.equal(await check(`https://127.0.0.1:${port}/v2/`), 0);
  });

  it('fails on an error answer, on no answer, and on a certificate the CA did not sign', async () => {
    answer = 503;
    assert.notEqual(await check(`https://127.0.0.1:${port}/v2/`), 0);
    answer = 200;
    assert.notEqual(await check(`https://127.0.0.1:${port}/nothing-here`), 0, '404');
    const closed = https.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    closed.close();
    assert.notEqual(await check(`https://127.0.0.1:${closedPort}/v2/`), 0, 'nothing listening');
    const otherCa = path.join(dir, 'other-ca.crt');
    fs.writeFileSync(otherCa, (await ensureRegistryPki(path.join(dir, 'other'), ['127.0.0.1'])).caCert);
    assert.notEqual(await check(`https://127.0.0.1:${port}/v2/`, otherCa), 0, 'TLS is verified with the CA');
  });

  it('Harbor: passes when the components that serve pulls and pushes are healthy (200 either way), whatever the others say', async () => {
    const url = `https://127.0.0.1:${port}/api/v2.0/health`;
    const all = ['core', 'database', 'jobservice', 'portal', 'redis', 'registry', 'registryctl', 'trivy'];
    // As real Harbor writes it (test/fixtures/harbor-api/health_jobservice_stopped.json): "error" before "name" when down.
    const component = (name: string, status: string, statusFirst: boolean) =>
      status === 'healthy' ? (statusFirst ? { status, name } : { name, status }) : { error: 'failed to check health: dial tcp [::1]:8080: connection refused', name, status };
    const body = (statusFirst: boolean, ...down: string[]) => {
      const components = all.map((n) => component(n, down.includes(n) ? 'unhealthy' : 'healthy', statusFirst));
      const overall = down.length ? 'unhealthy' : 'healthy';
      return `${JSON.stringify(statusFirst ? { status: overall, components } : { components, status: overall })}\n`;
    };
    answer = 200;
    for (const statusFirst of [false, true]) {
      harborBody = body(statusFirst);
      assert.equal(await check(url), 0, harborBody);
      for (const spare of ['trivy', 'jobservice', 'portal', 'registryctl']) {
        harborBody = body(statusFirst, spare);
        assert.equal(await check(url), 0, `${spare} down: pulls and pushes still work, the node keeps the VIP`);
      }
      for (const serving of ['core', 'registry', 'database', 'redis']) {
        harborBody = body(statusFirst, serving, 'trivy');
        assert.notEqual(await check(url), 0, `${serving} down`);
      }
    }
    harborBody = JSON.stringify({ components: all.filter((n) => n !== 'redis').map((n) => ({ name: n, status: 'healthy' })), status: 'healthy' });
    assert.notEqual(await check(url), 0, 'a serving component not reported');
    harborBody = JSON.stringify({ components: [{ name: 'registryctl', status: 'healthy' }], status: 'healthy' });
    assert.notEqual(await check(url), 0, '"registryctl" is not "registry"');
    const recorded = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'harbor-api', 'health_jobservice_stopped.json'), 'utf8')) as { response: { body: unknown } };
    harborBody = JSON.stringify(recorded.response.body);
    assert.equal(await check(url), 0, 'recorded: jobservice stopped');
    harborBody = body(false);
    answer = 500;
    assert.notEqual(await check(url), 0, 'an error status');
    answer = 401;
    assert.notEqual(await check(url), 0, '401 is healthy only for the docker registry');
    answer = 200;
    assert.match(keepalivedCheckScript({ healthUrl: url }), /for c in core database redis registry/);
    assert.doesNotMatch(keepalivedCheckScript({ healthUrl: `https://127.0.0.1:${port}/v2/` }), /"status"/, 'the docker registry check is unchanged');
  });

  it('keeps a URL with shell characters as one argument', () => {
    const script = keepalivedCheckScript({ healthUrl: "https://h/v2/?a=1&b='x'" });
    assert.ok(script.includes(`'https://h/v2/?a=1&b='\\''x'\\'''`), script);
    assert.match(script, /^#!\/bin\/sh\n/);
  });
});
