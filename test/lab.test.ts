import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { SshConnection } from '../activities/ssh/connection';
import { CONTAINERD_UNIT, DAEMON_DEFAULTS, DOCKER_UNIT, mergeDaemonJson } from '../activities/install/docker-units';
import { sh } from '../activities/ssh/quote';
import { sha256File } from '../activities/ssh/file-hash';
import type { LabFile } from '../lab/lab-file';
import { ensureRegistryPki } from '../pki';
import { LAB_BINARY_DIR, PASSWORD_USER, SUBNET_PREFIX } from '../lab/paths';
import { lab, labKnownHosts, labSsh, labUp, labVersion, resetNodes } from './support/lab';
import { s3Request } from './support/s3';
/** The lab's subnet, escaped for a regular expression. */
const NET = SUBNET_PREFIX.replace(/\./g, '\\.');

/** The lab's self-test: nodes, SSH, the free VIP, every artifact loaded and started in a node's Docker, every fault. */
let labFile: LabFile;
const knownHosts = labKnownHosts();

/** The artifact the lab built at the version its --set string names (older builds may sit beside it). */
function artifact(relativeDir: string, versionKey: string): string {
  const version = labVersion(labFile, versionKey);
  const archDir = path.join(LAB_BINARY_DIR, relativeDir, version, 'amd64');
  return path.join(archDir, fs.readdirSync(archDir).find((f) => !f.endsWith('.sha256'))!);
}

async function must(conn: SshConnection, cmd: string, timeoutMs = 120_000): Promise<string> {
  const r = await conn.exec(cmd, { sudo: true, timeoutMs });
  assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
  return r.stdout;
}

async function tcpOpen(address: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port, timeout: timeoutMs });
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
    s.on('timeout', () => (s.destroy(), resolve(false)));
  });
}

before(async () => {
  labFile = await labUp(3);
  // Fresh hosts: no registry, no keepalived, the VIP free.
  await resetNodes(labFile);
});

after(async () => {
  // The artifact test installed Docker on node3: give the next test a fresh host.
  await lab(['reset', 'node3']);
});

describe('lab', () => {
  it('every node boots systemd to running and answers SSH as root by key', async () => {
    assert.deepEqual(labFile.nodes.map((n) => n.name), ['node1', 'node2', 'node3']);
    for (const node of labFile.nodes) {
      const conn = await labSsh(node, knownHosts);
      assert.equal((await must(conn, 'systemctl is-system-running')).trim(), 'running');
      assert.equal((await must(conn, 'hostname')).trim(), node.name);
      conn.close();
    }
    const hostKeys = await Promise.all(labFile.nodes.map(async (n) => (await lab(['exec', n.name, '--', 'cat', '/etc/ssh/ssh_host_ed25519_key.pub'])).stdout));
    assert.equal(new Set(hostKeys).size, 3, 'each node has host keys of its own');
  });

  it('the password inventory logs in as a non-root user whose sudo takes the password', async () => {
    const inventory = fs.readFileSync(labFile.inventoryPassword, 'utf8');
    const password = /password: (\S+)/.exec(inventory)![1]!;
    const node = labFile.nodes[0]!;
    const conn = await SshConnection.open({ name: node.name, local: false, address: node.address, port: 22, user: PASSWORD_USER, password }, { knownHosts });
    assert.equal((await conn.exec('id -un')).stdout.trim(), PASSWORD_USER);
    assert.equal((await conn.exec('id -u', { sudo: true })).stdout.trim(), '0');
    conn.close();
  });

  it('the VIP is in the lab subnet and free', async () => {
    assert.match(labFile.vip, new RegExp(`^${NET}\\.\\d+$`));
    for (const node of labFile.nodes) {
      const addrs = (await lab(['exec', node.name, '--', 'ip', '-o', 'addr'])).stdout;
      assert.ok(!addrs.includes(`${labFile.vip}/`), `${node.name} holds the VIP`);
    }
    assert.equal(await tcpOpen(labFile.vip, 22, 1500), false);
  });

  it('the artifacts install and start in a node: docker from the static tarball, the registry image answers /v2/, docker-compose runs, keepalived holds the VIP while its check passes', async () => {
    const node = labFile.nodes[2]!;
    const conn = await labSsh(node, knownHosts);
    const dockerTgz = artifact('docker', 'docker_version');
    assert.equal(fs.readFileSync(`${dockerTgz}.sha256`, 'utf8').split(' ')[0], await sha256File(dockerTgz), 'the .sha256 beside the artifact is right');
    await conn.upload(dockerTgz, '/tmp/docker.tgz');
    await must(conn, 'tar -C /tmp -xzf /tmp/docker.tgz && install -m 0755 /tmp/docker/* /usr/local/bin/');
    await conn.exec(sh`mkdir -p /etc/docker && cat > /etc/systemd/system/containerd.service`, { sudo: true, stdin: CONTAINERD_UNIT });
    await conn.exec(sh`cat > /etc/systemd/system/docker.service`, { sudo: true, stdin: DOCKER_UNIT });
    await conn.exec(sh`cat > /etc/docker/daemon.json`, { sudo: true, stdin: mergeDaemonJson(undefined, { defaults: DAEMON_DEFAULTS }) });
    await must(conn, 'systemctl daemon-reload && systemctl enable --now containerd docker');
    assert.match(await must(conn, "docker info --format '{{.ServerVersion}} {{.Driver}}'"), /^20\.10\.24\S* overlay2/);

    const reg = labVersion(labFile, 'docker_registry_version');
    await conn.upload(artifact('image-registry/docker-registry', 'docker_registry_version'), '/tmp/registry.tgz');
    const loaded = await must(conn, 'docker load -i /tmp/registry.tgz');
    assert.ok(loaded.includes(`Loaded image: registry:${reg}`), loaded);
    await must(conn, `docker run -d --name lab-registry -p 5000:5000 registry:${reg}`);
    let v2 = 0;
    for (let i = 0; i < 40 && v2 !== 200; i++) {
      v2 = await fetch(`http://${node.address}:5000/v2/`).then((r) => r.status, () => 0);
      if (v2 !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(v2, 200, 'the registry answers /v2/ on the node address');
    await must(conn, `docker tag registry:${reg} 127.0.0.1:5000/lab/selftest:1 && docker push 127.0.0.1:5000/lab/selftest:1`);
    assert.match(await must(conn, 'docker exec lab-registry ls /var/lib/registry/docker/registry/v2/repositories/lab'), /selftest/);
    assert.match(await must(conn, 'docker exec lab-registry cat /etc/docker/registry/config.yml'), /rootdirectory: \/var\/lib\/registry/);

    const compose = artifact('image-registry/docker-compose', 'dockercompose_version');
    await conn.upload(compose, '/usr/local/bin/docker-compose', { mode: 0o755 });
    assert.equal((await must(conn, 'docker-compose version --short')).trim(), '2.20.3');

    // keepalived from its image (osixia/keepalived at the seed's 2.0.20), on the host network, takes the VIP and runs a
    // curl health check. The image takes its config at its assets path with --copy-service, as users' real one does.
    const keepalived = `osixia/keepalived:${labVersion(labFile, 'keepalived_version')}`;
    await conn.upload(artifact('image-registry/keepalived', 'keepalived_version'), '/tmp/keepalived.tgz');
    assert.ok((await must(conn, 'docker load -i /tmp/keepalived.tgz')).includes(`Loaded image: ${keepalived}`));
    const conf = `global_defs {\n  script_user root\n  enable_script_security\n}\nvrrp_script check {\n  script "/usr/bin/curl -fsS -o /dev/null http://127.0.0.1:5000/v2/"\n  interval 2\n  fall 2\n  rise 1\n}\nvrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 77\n  priority 100\n  advert_int 1\n  virtual_ipaddress {\n    ${labFile.vip}/24\n  }\n  track_script {\n    check\n  }\n}\n`;
    await conn.exec(sh`mkdir -p /opt/kk-selftest && cat > /opt/kk-selftest/keepalived.conf`, { sudo: true, stdin: conf });
    await must(conn, `docker run -d --name lab-keepalived --restart always --network host --cap-add NET_ADMIN --cap-add NET_BROADCAST --cap-add NET_RAW -v /opt/kk-selftest/keepalived.conf:/container/service/keepalived/assets/keepalived.conf:ro ${keepalived} --copy-service`);
    let held = false;
    for (let i = 0; i < 40 && !held; i++) {
      held = (await conn.exec('ip -o addr show eth0')).stdout.includes(`${labFile.vip}/24`);
      if (!held) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(held, `keepalived put ${labFile.vip} on eth0: ${(await conn.exec('docker logs lab-keepalived 2>&1 | tail -20')).stdout}`);
    // The health check fails once the registry is gone, and keepalived gives the VIP up.
    await must(conn, 'docker rm -f lab-registry');
    for (let i = 0; i < 60 && held; i++) {
      held = (await conn.exec('ip -o addr show eth0')).stdout.includes(`${labFile.vip}/24`);
      if (held) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(!held, 'the VIP was released when the health check failed');
    await must(conn, 'docker rm -f lab-keepalived');
    conn.close();
  });

  it('the Harbor stand-in installs from its offline installer like Harbor, answers its health call over TLS and takes a docker push', async () => {
    const node = labFile.nodes[2]!;
    const conn = await labSsh(node, knownHosts);
    // Docker and docker-compose are on node3 from the artifact test above.
    await conn.upload(artifact('image-registry/harbor', 'harbor_version'), '/opt/harbor-standin/installer.tgz');
    await must(conn, 'tar -C /opt/harbor-standin -xzf /opt/harbor-standin/installer.tgz && ls /opt/harbor-standin/harbor');
    const listing = await must(conn, 'ls /opt/harbor-standin/harbor');
    for (const f of ['install.sh', 'prepare', 'common.sh', 'harbor.yml.tmpl', 'harbor.v2.10.1.tar.gz']) assert.ok(listing.split('\n').includes(f), `${f} in the installer`);
    const pki = await ensureRegistryPki(fs.mkdtempSync(path.join(os.tmpdir(), 'kk-labpki-')), ['localhost', '127.0.0.1', node.address, node.name]);
    await conn.exec(sh`mkdir -p /opt/harbor-standin/ssl && cat > /opt/harbor-standin/ssl/server.crt`, { sudo: true, stdin: pki.serverCert });
    await conn.exec(sh`cat > /opt/harbor-standin/ssl/server.key && chmod 600 /opt/harbor-standin/ssl/server.key`, { sudo: true, stdin: pki.serverKey });
    const password = `Lab-${Date.now()}`;
    const harborYml = `hostname: ${node.address}\nhttp:\n  port: 80\nhttps:\n  port: 443\n  certificate: /opt/harbor-standin/ssl/server.crt\n  private_key: /opt/harbor-standin/ssl/server.key\nharbor_admin_password: ${password}\ndata_volume: /data/harbor\n`;
    await conn.exec(sh`cat > /opt/harbor-standin/harbor/harbor.yml`, { sudo: true, stdin: harborYml });
    assert.match(await must(conn, 'cd /opt/harbor-standin/harbor && bash install.sh 2>&1', 300_000), /Harbor stand-in has been installed and started successfully/);
    let health = '';
    for (let i = 0; i < 60 && !health.includes('"healthy"'); i++) {
      health = await new Promise<string>((resolve) => {
        const r = https.get(`https://${node.address}/api/v2.0/health`, { ca: pki.caCert }, (res) => {
          let t = '';
          res.on('data', (d: Buffer) => (t += d.toString()));
          res.on('end', () => resolve(t));
        });
        r.on('error', (e) => resolve(e.message));
      });
      if (!health.includes('"healthy"')) await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(health.trim(), /^\{"components":.*"status":"healthy"\}$/, health);
    await conn.exec(sh`mkdir -p ${`/etc/docker/certs.d/${node.address}`} && cat > ${`/etc/docker/certs.d/${node.address}/ca.crt`}`, { sudo: true, stdin: pki.caCert });
    await conn.exec(sh`docker login -u admin --password-stdin ${node.address}`, { sudo: true, stdin: password });
    await must(conn, `docker tag osixia/keepalived:${labVersion(labFile, 'keepalived_version')} ${node.address}/library/selftest:1 && docker push ${node.address}/library/selftest:1`);
    assert.match(await must(conn, 'ls /data/harbor/registry/docker/registry/v2/repositories/library'), /selftest/, 'registry data lives under data_volume');
    conn.close();
  });

  it('the S3 store accepts a put and a get with the lab keys, and refuses a wrong key', async () => {
    const s3 = labFile.s3!;
    assert.match(s3.endpoint, new RegExp(`^http://${NET}\\.\\d+:\\d+$`));
    const body = Buffer.from(`kk lab ${Date.now()}`);
    const put = await s3Request(s3, 'PUT', 'selftest/object.txt', body);
    assert.equal(put.status, 200, await put.text());
    const get = await s3Request(s3, 'GET', 'selftest/object.txt');
    assert.equal(get.status, 200);
    assert.equal(Buffer.from(await get.arrayBuffer()).toString(), body.toString());
    const denied = await s3Request({ ...s3, secretkey: 'wrong' }, 'GET', 'selftest/object.txt');
    assert.equal(denied.status, 403);
  });

  it("docker-compose accepts the project's docker-compose.yml", async () => {
    const compose = artifact('image-registry/docker-compose', 'dockercompose_version');
    const env = { ...process.env, POSTGRES_PASSWORD: 'x', KK_CODEC_KEY: 'y', PATH: process.env.PATH };
    const { stdout } = await promisify(execFile)(compose, ['-f', path.resolve(__dirname, '..', 'docker-compose.yml'), 'config', '--services'], { env });
    assert.deepEqual(stdout.trim().split('\n').sort(), ['kk-worker', 'postgresql', 'temporal', 'temporal-schema', 'temporal-ui']);
    await assert.rejects(promisify(execFile)(compose, ['-f', path.resolve(__dirname, '..', 'docker-compose.yml'), 'config'], { env: { PATH: process.env.PATH } }), /required variable (POSTGRES_PASSWORD|KK_CODEC_KEY) is missing a value/);
  });

  it('each fault does what it names', async () => {
    const node = labFile.nodes[1]!;
    const reachable = async () => {
      try {
        (await labSsh(node, knownHosts, 3000)).close();
        return true;
      } catch (err) {
        assert.ok(err instanceof ApplicationFailure && !err.nonRetryable, `an outage is retryable: ${err}`);
        return false;
      }
    };
    const fault = async (kind: string) => assert.equal((await lab(['fault', node.name, kind])).code, 0, kind);
    assert.equal(await reachable(), true);
    await fault('partition');
    assert.equal(await reachable(), false, 'partitioned');
    await fault('heal');
    assert.equal(await reachable(), true, 'healed');
    await fault('kill-sshd');
    assert.equal(await tcpOpen(node.address, 22), false, 'sshd is down');
    await fault('start');
    assert.equal(await reachable(), true, 'start brings sshd back');
    await fault('stop');
    assert.equal(await reachable(), false, 'stopped');
    await fault('start');
    assert.equal(await reachable(), true, 'started');
    await fault('restart');
    assert.equal(await reachable(), true, 'restarted');
  });
});
