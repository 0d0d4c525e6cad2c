import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { buildKeepalivedImages, SEED_KEEPALIVED_VERSION } from '../lab/artifacts/keepalived-image';
import { docker, dockerEnv, ensureDockerEngine } from '../lab/docker-engine';
import { run } from '../lab/process';
import { ensureRegistryPki } from '../pki';
import { KEEPALIVED_CHECK_MODE, KEEPALIVED_FILES, keepalivedCheckScript, keepalivedCompose, keepalivedConf, type KeepalivedSettings } from '../registry/render';

/**
 * The lab's osixia/keepalived image, as users bring it (`osixia/keepalived:2.0.20`, docker save), run the way kk deploys
 * it: the rendered compose service's mounts and command, on a network of this test's own (never the lab nodes' network
 * or VIP). Two containers elect a MASTER that holds the VIP; a failing health check and a stopped MASTER move it.
 * A config mounted at /etc/keepalived/keepalived.conf, what the image does not take, stops the container.
 */

const NETWORK = 'kk-keepalived-image-test';
// Away from the subnets labs take (172.30.99 by default, 172.30.9x beside it).
const PREFIX = '172.30.198';
const GATEWAY = `${PREFIX}.1`;
const VIP = `${PREFIX}.100`;
const NODES = [
  { name: 'kk-kaimg-a', address: `${PREFIX}.11`, priority: 150 },
  { name: 'kk-kaimg-b', address: `${PREFIX}.12`, priority: 100 },
];
const ALL_CONTAINERS = [...NODES.map((n) => n.name), 'kk-kaimg-default', 'kk-kaimg-etc'];
const IMAGE = `osixia/keepalived:${SEED_KEEPALIVED_VERSION}`;

let tmp = '';
let server: https.Server | undefined;
/** What the stand-in registry answers /v2/ per client address; a healthy registry that requires auth answers 401. */
const answers = new Map<string, number>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function dockerResult(args: string[]): Promise<{ ok: boolean; out: string }> {
  return docker(args).then((out) => ({ ok: true, out }), (e: Error) => ({ ok: false, out: e.message }));
}

async function removeOurs(): Promise<void> {
  for (const c of ALL_CONTAINERS) await dockerResult(['rm', '-f', c]);
  await dockerResult(['network', 'rm', NETWORK]);
}

async function addresses(container: string): Promise<string> {
  return (await dockerResult(['exec', container, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).out;
}

const holdsVip = async (container: string) => (await addresses(container)).includes(` ${VIP}/24 `);

/** Waits until `container` holds the VIP and no other one does; fails with both containers' logs. */
async function waitVipOn(container: string, timeoutMs = 30_000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const held = await Promise.all(NODES.map(async (n) => [n.name, await holdsVip(n.name)] as const));
    if (held.every(([name, h]) => h === (name === container))) return Date.now() - start;
    await sleep(250);
  }
  const logs = await Promise.all(NODES.map(async (n) => `--- ${n.name}\n${(await addresses(n.name)).trim()}\n${(await dockerResult(['logs', '--tail', '15', n.name])).out}`));
  assert.fail(`${VIP} is not held by ${container} alone after ${timeoutMs} ms:\n${logs.join('\n')}`);
}

/** `docker run` arguments for kk's rendered compose service, on this test's network instead of the host's. */
function runArgs(name: string, address: string, composeYaml: string): string[] {
  const svc = (parse(composeYaml) as { services: { keepalived: { image: string; cap_add: string[]; volumes: string[]; command: string } } }).services.keepalived;
  return [
    'run', '-d', '--name', name, '--network', NETWORK, '--ip', address,
    ...svc.cap_add.flatMap((c) => ['--cap-add', c]),
    ...svc.volumes.flatMap((v) => ['-v', v]),
    svc.image,
    ...svc.command.split(' '),
  ];
}

async function waitExited(container: string, timeoutMs: number): Promise<{ status: string; exitCode: number }> {
  const start = Date.now();
  let state = { status: '', exitCode: -1 };
  while (Date.now() - start < timeoutMs) {
    const [status, code] = (await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', container])).trim().split(' ');
    state = { status: status!, exitCode: Number(code) };
    if (status === 'exited') break;
    await sleep(250);
  }
  return state;
}

before(async () => {
  await ensureDockerEngine();
  await removeOurs();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-keepalived-image-'));
  await docker(['network', 'create', '--subnet', `${PREFIX}.0/24`, '--gateway', GATEWAY, NETWORK]);
});

after(async () => {
  server?.close();
  await removeOurs();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('osixia/keepalived image (lab stand-in)', { timeout: 300_000 }, () => {
  it('the artifact loads as osixia/keepalived:2.0.20 and :2.2.7 and holds bash, curl, busybox and /usr/local/sbin/keepalived', async () => {
    const built = await buildKeepalivedImages();
    assert.deepEqual(Object.keys(built.tarballs).sort(), [built.binaryVersion, SEED_KEEPALIVED_VERSION].sort());
    for (const [version, tarball] of Object.entries(built.tarballs)) {
      // The artifact is what `docker save` writes: loading it names the tag users pulled.
      const loaded = await run('sh', ['-c', 'gunzip -c "$1" | docker load', 'sh', tarball], { env: dockerEnv() });
      assert.match(loaded, new RegExp(`Loaded image: osixia/keepalived:${version.replaceAll('.', '\\.')}`));
    }
    const tools = await docker(['run', '--rm', '--entrypoint', '/bin/sh', IMAGE, '-c', 'bash -c "echo bash ok" && curl --version | head -1 && busybox | head -1 && /usr/local/sbin/keepalived --version 2>&1 | head -1 && readlink /usr/sbin/log-helper']);
    assert.match(tools, /^bash ok\ncurl \d+\.\d+.*\nBusyBox v[\d.]+.*\nKeepalived v[\d.]+.*\n\/container\/tool\/log-helper\n$/, tools);
  });

  it('without a config of its own it links /etc/keepalived/keepalived.conf to the assets default, filled from its environment', async () => {
    // The image's built-in default announces 192.168.1.231/232 on eth0 (here only inside this container's namespace).
    await docker(['run', '-d', '--name', 'kk-kaimg-default', '--network', NETWORK, '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_BROADCAST', '--cap-add', 'NET_RAW', '-e', 'KEEPALIVED_PRIORITY=42', IMAGE]);
    let addrs = '';
    for (let i = 0; i < 40 && !addrs.includes('192.168.1.232'); i++) {
      await sleep(250);
      addrs = await addresses('kk-kaimg-default');
    }
    assert.match(addrs, /inet 192\.168\.1\.231\/32 /, addrs);
    assert.match(addrs, /inet 192\.168\.1\.232\/32 /, addrs);
    assert.equal((await docker(['exec', 'kk-kaimg-default', 'readlink', '/etc/keepalived/keepalived.conf'])).trim(), '/container/service/keepalived/assets/keepalived.conf');
    const conf = await docker(['exec', 'kk-kaimg-default', 'cat', '/etc/keepalived/keepalived.conf']);
    assert.match(conf, /interface eth0\n/);
    assert.match(conf, /priority 42\n/, 'docker run -e overrides a default');
    assert.match(conf, /unicast_peer \{\n    192\.168\.1\.10\n    192\.168\.1\.11\n  \}/);
    assert.match(conf, /auth_pass d0cker\n/);
    assert.match(conf, /notify "\/container\/service\/keepalived\/assets\/notify\.sh"/);
    assert.doesNotMatch(conf, /\{\{/);
    await docker(['rm', '-f', 'kk-kaimg-default']);
  });

  it('a config mounted at /etc/keepalived/keepalived.conf without --copy-service stops the container at its first start', async () => {
    const conf = path.join(tmp, 'etc-keepalived.conf');
    fs.writeFileSync(conf, `vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n  priority 100\n  virtual_ipaddress {\n    ${PREFIX}.77/24\n  }\n}\n`);
    await docker(['run', '-d', '--name', 'kk-kaimg-etc', '--network', NETWORK, '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_BROADCAST', '--cap-add', 'NET_RAW', '-v', `${conf}:/etc/keepalived/keepalived.conf:ro`, IMAGE]);
    const state = await waitExited('kk-kaimg-etc', 20_000);
    const logs = (await dockerResult(['logs', 'kk-kaimg-etc'])).out;
    assert.equal(state.status, 'exited', logs);
    assert.notEqual(state.exitCode, 0, logs);
    assert.match(logs, /startup\.sh failed/, logs);
    assert.doesNotMatch(logs, /Starting Keepalived/, 'keepalived never started');
    await docker(['rm', '-f', 'kk-kaimg-etc']);
  });

  it('deployed as kk renders it (config at the assets path, --copy-service, check script): MASTER holds the VIP, which moves on a failing check and on docker stop', async () => {
    const pki = await ensureRegistryPki(tmp, [GATEWAY]);
    server = https.createServer({ cert: pki.serverCert, key: pki.serverKey }, (req, res) => {
      res.statusCode = req.url === '/v2/' ? answers.get((req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')) ?? 401 : 404;
      res.end();
    });
    await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(0, GATEWAY, resolve));
    const port = (server.address() as AddressInfo).port;

    for (const node of NODES) {
      const k: KeepalivedSettings = {
        version: SEED_KEEPALIVED_VERSION,
        vip: VIP,
        prefix: 24,
        interface: 'eth0',
        self: { name: node.name, address: node.address },
        peers: NODES.filter((n) => n !== node).map((n) => ({ name: n.name, address: n.address })),
        priority: node.priority,
        virtualRouterId: 98,
        authPass: 'kaimgtst',
        healthUrl: `https://${GATEWAY}:${port}/v2/`,
      };
      // The files as the install writes them on a host, with the modes it gives them.
      const dir = path.join(tmp, node.name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, KEEPALIVED_FILES.conf), keepalivedConf(k), { mode: 0o600 });
      fs.writeFileSync(path.join(dir, KEEPALIVED_FILES.check), keepalivedCheckScript(k), { mode: KEEPALIVED_CHECK_MODE });
      fs.writeFileSync(path.join(dir, KEEPALIVED_FILES.ca), pki.caCert, { mode: 0o644 });
      answers.set(node.address, 401);
      await docker(runArgs(node.name, node.address, keepalivedCompose(k, dir)));
    }
    const [a, b] = NODES as [(typeof NODES)[0], (typeof NODES)[0]];

    // The higher priority wins while its check passes on 401 (the registry requires auth).
    await waitVipOn(a.name);
    assert.equal((await docker(['exec', a.name, 'readlink', '/etc/keepalived/keepalived.conf'])).trim(), '/container/run/service/keepalived/assets/keepalived.conf');
    assert.equal(fs.readFileSync(path.join(tmp, a.name, KEEPALIVED_FILES.conf), 'utf8').includes(`unicast_src_ip ${a.address}`), true);
    assert.doesNotMatch((await docker(['logs', a.name])).toString(), /SECURITY VIOLATION|Disabling track script/);

    // a's registry turns unhealthy: a gives the VIP up to b; healthy again, a takes it back (higher priority).
    answers.set(a.address, 503);
    await waitVipOn(b.name);
    answers.set(a.address, 401);
    await waitVipOn(a.name);

    // docker stop reaches keepalived (the run tool forwards SIGTERM): a stops at once, cleanly, and b takes the VIP.
    const t0 = Date.now();
    await docker(['stop', '-t', '20', a.name]);
    const stopMs = Date.now() - t0;
    assert.ok(stopMs < 10_000, `docker stop took ${stopMs} ms: SIGTERM did not reach keepalived`);
    assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', a.name])).trim(), '0');
    await waitVipOn(b.name);
  });
});
