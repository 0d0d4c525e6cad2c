import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DAEMON_DEFAULTS, mergeDaemonJson } from '../activities/install/docker-units';
import { holdsVip, parseKeepalivedMembers } from '../activities/install/keepalived';
import { nfsCommands } from '../activities/install/registry';
import { registryAuthRefused } from '../activities/install/remote';
import { parseProbe, probeScript } from '../activities/precheck/probe';
import type { HostSession } from '../activities/ssh/session';
import { hostFacts, hostProbe, precheckInputFor } from './support/host-facts';
import { hostChecks, vipHeldByKk } from '../precheck/evaluate';
import type { HostProbe } from '../precheck/types';

/** The install's pure pieces: what daemon.json becomes, who a keepalived group was, what precheck probes and says. */

describe('daemon.json is merged, never replaced', () => {
  it('keeps every existing key and fills only absent defaults; insecure registries are added once', () => {
    const existing = { 'data-root': '/srv/docker', 'registry-mirrors': ['https://m.example'], 'insecure-registries': ['a:5000'] };
    const merged = JSON.parse(mergeDaemonJson(existing, { defaults: DAEMON_DEFAULTS, insecureRegistries: ['a:5000', 'b'] })) as Record<string, unknown>;
    assert.equal(merged['data-root'], '/srv/docker');
    assert.deepEqual(merged['registry-mirrors'], ['https://m.example']);
    assert.deepEqual(merged['exec-opts'], ['native.cgroupdriver=systemd']);
    assert.deepEqual(merged['insecure-registries'], ['a:5000', 'b']);
  });
  it('a Docker kk did not install gets no defaults, and the same input gives the same text (re-runs change nothing)', () => {
    const existing = { 'log-driver': 'journald' };
    const once = mergeDaemonJson(existing, { insecureRegistries: ['r'] });
    assert.deepEqual(JSON.parse(once), { 'log-driver': 'journald', 'insecure-registries': ['r'] });
    assert.equal(mergeDaemonJson(JSON.parse(once) as Record<string, unknown>, { insecureRegistries: ['r'] }), once);
  });
});

describe('keepalived', () => {
  it('reads the group a deployed config names (itself and its peers)', () => {
    const conf = 'vrrp_instance kk_registry {\n  unicast_src_ip 10.0.0.1\n  unicast_peer {\n    10.0.0.2\n    10.0.0.3\n  }\n}\n';
    assert.deepEqual(parseKeepalivedMembers(conf), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.deepEqual(parseKeepalivedMembers(''), []);
  });
  it('finds an IPv6 VIP as well as an IPv4 one', async () => {
    const ipOutput = '2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n2: eth0    inet6 fd00::100/64 scope global\n';
    const ask = async (vip: string) => {
      let cmd = '';
      const s = { exec: async (c: string) => ((cmd = c), { code: runGrep(c, ipOutput), stdout: '', stderr: '' }) } as unknown as HostSession;
      const held = await holdsVip(s, vip);
      assert.match(cmd, /ip -o addr 2>\/dev\/null \|/);
      return held;
    };
    assert.equal(await ask('fd00::100'), true);
    assert.equal(await ask('10.0.0.5'), true);
    assert.equal(await ask('10.0.0.50'), false, 'a longer address with the VIP as prefix is not the VIP');
  });
});

/** Runs the grep half of holdsVip's pipeline on canned `ip -o addr` output, for its exit code. */
function runGrep(cmd: string, ipOutput: string): number {
  const grep = cmd.slice(cmd.indexOf('grep'));
  try {
    execFileSync('sh', ['-c', grep], { input: ipOutput });
    return 0;
  } catch (err) {
    return (err as { status: number }).status;
  }
}

describe('precheck probes only what the registry needs', () => {
  it('probes every path at once, in the background, and waits for all', () => {
    const script = probeScript({ peers: [{ address: '10.0.0.2', port: 443, required: true }, { address: '10.0.0.3', port: 443, required: true }], registryPorts: [443] });
    const lines = script.split('\n');
    const reach = lines.filter((l) => l.includes('/dev/tcp'));
    assert.equal(reach.length, 2);
    for (const l of reach) assert.match(l, /^\( .* \) &$/);
    assert.ok(lines.indexOf('wait') > lines.indexOf(reach[1]!));
    assert.doesNotMatch(script, /\b22\b/, 'SSH between hosts is not probed');
  });

  it("the VIP probe's held line sees an IPv6 VIP as well as an IPv4 one (run against canned `ip -o addr` output)", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-ip-'));
    fs.writeFileSync(path.join(bin, 'ip'), "#!/bin/sh\nprintf '%s\\n' '1: lo    inet 127.0.0.1/8 scope host lo' '2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0' '2: eth0    inet6 fd00::100/64 scope global' '2: eth0    inet6 fd00::1000/64 scope global'\n", { mode: 0o755 });
    const held = (vip: string) => {
      const lines = probeScript({ peers: [], registryPorts: [], vip }).split('\n');
      const line = lines[lines.indexOf('echo @@vip') + 1]!;
      assert.match(line, /echo held/);
      return execFileSync('sh', ['-c', line], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } }).toString().trim() === 'held';
    };
    try {
      assert.equal(held('fd00::100'), true, 'IPv6 VIP held');
      assert.equal(held('10.0.0.5'), true, 'IPv4 VIP held');
      assert.equal(held('fd00::10'), false, 'a longer address with the VIP as prefix is not the VIP');
      assert.equal(held('10.0.0.50'), false);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  const facts = hostFacts();
  const input = precheckInputFor({ nfsHosts: ['nfs'], storage: { driver: 'filesystem', nfsMount: '/exports/reg', missingFields: [], drivers: [] } });
  const probe = (over: Partial<HostProbe>): HostProbe => hostProbe(facts, over);

  it('an unreachable registry port fails on a registry host and only warns elsewhere', () => {
    const reach = { '10.0.0.9:443': 'unreachable' as const };
    assert.equal(hostChecks(input, 'r1', probe({ reach })).find((c) => c.check === 'connectivity')?.status, 'fail');
    assert.equal(hostChecks(input, 'worker1', probe({ reach })).find((c) => c.check === 'connectivity')?.status, 'warn');
  });
  it('NFS storage without an NFS client fails with the package to install', () => {
    const nfs = hostChecks(input, 'r1', probe({ nfsClient: false })).find((c) => c.check === 'nfs');
    assert.equal(nfs?.status, 'fail');
    assert.equal(nfs?.fix, 'apt-get install -y nfs-common');
  });
  it('a CA on the host that is not the work dir\'s fails unless rotate_ca, and the work dir\'s own passes', () => {
    const deployedCa = { '/opt/docker-registry/2.8.3/ssl/ca.crt': 'a'.repeat(64) };
    assert.equal(hostChecks({ ...input, caSha256: 'b'.repeat(64) }, 'r1', probe({ deployedCa })).find((c) => c.check === 'ca')?.status, 'fail');
    assert.equal(hostChecks({ ...input, caSha256: 'b'.repeat(64), rotateCa: true }, 'r1', probe({ deployedCa })).find((c) => c.check === 'ca')?.status, 'warn');
    assert.equal(hostChecks({ ...input, caSha256: 'a'.repeat(64) }, 'r1', probe({ deployedCa })).find((c) => c.check === 'ca')?.status, 'pass');
  });
  it('a registry unit of the same name that kk did not write is refused, and kk\'s own is kept', () => {
    const foreign = hostChecks(input, 'r1', probe({ facts: { ...facts, services: { harbor: false, dockerRegistry: true } } }));
    assert.ok(foreign.some((c) => c.check === 'existing' && c.status === 'fail' && /not installed by kk/.test(c.message)));
    const ours = hostChecks(input, 'r1', probe({ facts: { ...facts, services: { harbor: false, dockerRegistry: true }, servicesByKk: { harbor: false, dockerRegistry: true } } }));
    assert.ok(!ours.some((c) => c.status === 'fail'));
  });
});

describe('Harbor precheck', () => {
  it('compares versions as numbers, as Harbor\'s installer does', async () => {
    const { versionBelow } = await import('../precheck/evaluate');
    assert.equal(versionBelow('20.10.9', '20.10.10'), true);
    assert.equal(versionBelow('20.10.24+dfsg1', '20.10.10'), false);
    assert.equal(versionBelow('v2.20.3', '1.18.0'), false);
    assert.equal(versionBelow('1.17.1', '1.18.0'), true);
  });
});

describe('HA shrink: the VIP held by a leaving member', () => {
  const facts = hostFacts({ interfaces: [{ name: 'eth0', cidrs: ['10.0.0.5/24'] }] });
  const input = precheckInputFor({
    registryHosts: ['node2', 'node3'],
    versions: { docker: '24.0.7', docker_compose: 'v2.20.3', keepalived: '2.0.20' },
    haVip: '10.0.0.100',
    storage: { driver: 's3', missingFields: [], drivers: ['s3'] },
  });
  const answered = { answered: true, heldHere: false, keepalivedHere: true };
  const vipCheck = (leaver: HostProbe['vip']) => {
    const probes = [hostProbe(facts, { vip: leaver }), hostProbe(facts, { vip: answered }), hostProbe(facts, { vip: answered })];
    return hostChecks(input, 'node2', probes[1]!, vipHeldByKk(probes)).find((c) => c.check === 'vip')!;
  };

  it("a host outside the group probes only whether it holds the VIP with kk's keepalived, sending nothing to the VIP", () => {
    const script = probeScript({ peers: [], registryPorts: [], vipHolder: '10.0.0.100' });
    assert.match(script, /echo held/);
    assert.match(script, /pgrep -x keepalived .*systemctl is-active --quiet kk-keepalived\.service; then echo keepalived/);
    assert.doesNotMatch(script, /\/dev\/tcp|ip neigh/);
    const out = '@@listen\n@@holders\n@@reach\n@@ca\n@@nfs\n@@vip\nheld\nkeepalived\n@@probe-end\n';
    assert.deepEqual(parseProbe(out, { peers: [], registryPorts: [], vipHolder: '10.0.0.100' }).vip, { heldHere: true, keepalivedHere: true, answered: false });
  });
  it("the leaver holding the VIP with kk's keepalived passes (the install removes its keepalived)", () => {
    const c = vipCheck({ answered: false, heldHere: true, keepalivedHere: true });
    assert.equal(c.status, 'pass', c.message);
    assert.match(c.message, /held by our keepalived/);
  });
  it('a holder without kk\'s keepalived, or none among the probed hosts, is something else on the address: fail', () => {
    assert.equal(vipCheck({ answered: false, heldHere: true, keepalivedHere: false }).status, 'fail');
    const none = vipCheck(undefined);
    assert.equal(none.status, 'fail');
    assert.match(none.message, /already in use/);
  });
});

describe('NFS source', () => {
  it('an IPv6 server goes in brackets (mount.nfs splits at the last ":"); IPv4 and names as they are', () => {
    const v6 = nfsCommands({ server: 'fd00::1', export: '/export' }, '/data');
    assert.equal(v6.source, '[fd00::1]:/export');
    assert.ok(v6.mount.includes('[fd00::1]:/export') && v6.fstab.includes('[fd00::1]:/export /data nfs'), `${v6.mount}\n${v6.fstab}`);
    assert.equal(nfsCommands({ server: '10.0.0.13', export: '/export' }, '/data').source, '10.0.0.13:/export');
  });
});

describe('a refused login is told from other failures', () => {
  it('401 and unauthorized are the registry refusing the credentials; a proxy asking for its own (407) is not', () => {
    assert.equal(registryAuthRefused('login attempt to https://10.0.0.1/v2/ failed with status: 401 Unauthorized'), true);
    assert.equal(registryAuthRefused('Get "https://10.0.0.1/v2/": unauthorized: authentication required'), true);
    assert.equal(registryAuthRefused('Get "https://10.0.0.1/v2/": proxyconnect tcp: 407 Proxy Authentication Required'), false);
    assert.equal(registryAuthRefused('Error response from daemon: Proxy Authentication Required'), false);
    assert.equal(registryAuthRefused('Get "https://10.0.0.1/v2/": authentication required'), false, 'only the registry\'s 401 words count');
    assert.equal(registryAuthRefused('Cannot connect to the Docker daemon'), false);
  });
});
