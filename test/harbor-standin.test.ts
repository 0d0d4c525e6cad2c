import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent } from 'node:https';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { distributionBinary } from '../lab/artifacts/distribution';
import { goBinary, goBuildEnv } from '../lab/go';
import { ensureRegistryPki } from '../pki';
import { freePort } from '../runtime/dev-server';
import { waitForPort } from './support/sshd';

/**
 * The lab's Harbor stand-in, on loopback: two stand-ins, each in front of a real distribution registry, TLS verified
 * with kk's own CA. Harbor v2.10's semantics for what an installer calls, and replication that really copies images.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-harbor-'));
const children: ChildProcess[] = [];
const PASSWORD = 'Standin-Test-1';
let ca: string;
let agent: Agent;
const sites: { api: string; registry: string }[] = [];

function start(file: string, args: string[]): ChildProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return child;
}

async function req(url: string, init: { method?: string; body?: unknown; auth?: string | null; headers?: Record<string, string>; raw?: Buffer } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.auth !== null) headers.authorization = `Basic ${Buffer.from(`admin:${init.auth ?? PASSWORD}`).toString('base64')}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  // node's fetch has no per-request CA option; https.request does.
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const u = new URL(url);
    const r = require('node:https').request(u, { method: init.method ?? 'GET', headers, agent }, (res: import('node:http').IncomingMessage) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    r.on('error', reject);
    r.end(init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)));
  });
}

/** Pushes a one-layer OCI image through a stand-in's /v2/ (monolithic blob uploads, then the manifest). */
async function pushImage(base: string, repo: string, tag: string, content: string): Promise<string> {
  const blob = async (data: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const start = await req(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202, start.text);
    const loc = new URL(String(start.headers.location), base);
    loc.searchParams.set('digest', digest);
    const put = await req(loc.toString(), { method: 'PUT', raw: data, headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) } });
    assert.equal(put.status, 201, put.text);
    return { digest, size: data.length };
  };
  const layer = await blob(Buffer.from(content));
  const config = await blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }] }));
  const put = await req(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', raw: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(put.status, 201, put.text);
  return `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

before(async () => {
  const pki = await ensureRegistryPki(path.join(dir, 'work'), ['localhost', '127.0.0.1']);
  ca = pki.caCert;
  agent = new Agent({ ca });
  fs.mkdirSync(path.join(dir, 'cacerts'));
  fs.writeFileSync(path.join(dir, 'cacerts', 'ca.crt'), ca);
  fs.writeFileSync(path.join(dir, 'server.crt'), pki.serverCert);
  fs.writeFileSync(path.join(dir, 'server.key'), pki.serverKey);
  const standin = path.join(dir, 'harbor-standin');
  await promisify(execFile)(goBinary(), ['build', '-o', standin, '.'], { cwd: path.join(__dirname, '..', 'lab', 'harbor-standin'), env: goBuildEnv() });
  const registryBin = await distributionBinary();
  for (const name of ['a', 'b']) {
    const regPort = await freePort();
    const root = path.join(dir, name);
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    fs.writeFileSync(path.join(root, 'registry.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}/blobs\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${regPort}\n`);
    start(registryBin, ['serve', path.join(root, 'registry.yml')]);
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    fs.writeFileSync(path.join(root, 'config.json'), JSON.stringify({ hostname: '127.0.0.1', admin_password: PASSWORD, registry_url: `http://127.0.0.1:${regPort}`, https: true, external_port: httpsPort }));
    start(standin, ['serve', '--config', path.join(root, 'config.json'), '--data', path.join(root, 'data'), '--http', `127.0.0.1:${httpPort}`, '--https', `127.0.0.1:${httpsPort}`, '--cert', path.join(dir, 'server.crt'), '--key', path.join(dir, 'server.key'), '--cust-cert-dir', path.join(dir, 'cacerts')]);
    await waitForPort(regPort);
    await waitForPort(httpsPort);
    sites.push({ api: `https://127.0.0.1:${httpsPort}`, registry: `http://127.0.0.1:${regPort}` });
  }
});

after(() => {
  for (const c of children) c.kill();
});

describe('Harbor stand-in', () => {
  it('health and systeminfo answer over TLS verified with the CA', async () => {
    const health = await req(`${sites[0]!.api}/api/v2.0/health`, { auth: null });
    assert.equal(health.status, 200);
    const h = JSON.parse(health.text) as { status: string; components: { name: string; status: string }[] };
    assert.equal(h.status, 'healthy');
    assert.deepEqual(h.components.find((c) => c.name === 'registry'), { name: 'registry', status: 'healthy' });
    const info = JSON.parse((await req(`${sites[0]!.api}/api/v2.0/systeminfo`, { auth: null })).text) as { harbor_version: string };
    assert.match(info.harbor_version, /^v2\.10\.1/);
  });

  it('requires the admin password; projects: 201 with Location, 409 on a duplicate, pages with X-Total-Count', async () => {
    const base = sites[0]!.api;
    assert.equal((await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk' }, auth: null })).status, 401);
    assert.equal((await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk' }, auth: 'wrong' })).status, 401);
    const created = await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk', metadata: { public: 'false' } } });
    assert.equal(created.status, 201);
    assert.match(String(created.headers.location), /^\/api\/v2\.0\/projects\/\d+$/);
    const dup = await req(`${base}/api/v2.0/projects`, { method: 'POST', body: { project_name: 'kk' } });
    assert.equal(dup.status, 409);
    assert.equal((JSON.parse(dup.text) as { errors: { code: string }[] }).errors[0]!.code, 'CONFLICT');
    const page = await req(`${base}/api/v2.0/projects?page=2&page_size=1`);
    assert.equal(page.headers['x-total-count'], '2');
    assert.equal((JSON.parse(page.text) as unknown[]).length, 1);
  });

  it('registries: the peer is checked before it is saved (400 when it does not answer or refuses), 409 on a duplicate name', async () => {
    const base = sites[0]!.api;
    const peer = { name: 'peer-b', type: 'harbor', url: sites[1]!.api, insecure: false, credential: { type: 'basic', access_key: 'admin', access_secret: PASSWORD } };
    const created = await req(`${base}/api/v2.0/registries`, { method: 'POST', body: peer });
    assert.equal(created.status, 201, created.text);
    assert.equal((await req(`${base}/api/v2.0/registries`, { method: 'POST', body: peer })).status, 409);
    const closed = await req(`${base}/api/v2.0/registries`, { method: 'POST', body: { ...peer, name: 'gone', url: `https://127.0.0.1:${await freePort()}` } });
    assert.equal(closed.status, 400);
    assert.match(closed.text, /unhealthy/);
    const badCred = await req(`${base}/api/v2.0/registries`, { method: 'POST', body: { ...peer, name: 'badcred', credential: { type: 'basic', access_key: 'admin', access_secret: 'nope' } } });
    assert.equal(badCred.status, 400);
    const id = Number(String(created.headers.location).split('/').pop());
    assert.equal((await req(`${base}/api/v2.0/registries/ping`, { method: 'POST', body: { id } })).status, 200);
    const listed = JSON.parse((await req(`${base}/api/v2.0/registries`)).text) as { credential: { access_secret: string } }[];
    assert.equal(listed[0]!.credential.access_secret, '*****', 'secrets are not returned');
  });

  it('policies: exactly one of src_registry / dest_registry, 409 on a duplicate; event-based and manual replication copy images', async () => {
    const [a, b] = sites as [(typeof sites)[0], (typeof sites)[0]];
    const registries = JSON.parse((await req(`${a.api}/api/v2.0/registries`)).text) as { id: number }[];
    const dest = { id: registries[0]!.id };
    const policy = { name: 'a_to_b', dest_registry: dest, trigger: { type: 'event_based' }, enabled: true, override: true, deletion: true, replicate_deletion: true, dest_namespace_replace_count: 1 };
    assert.equal((await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: { ...policy, src_registry: dest } })).status, 400);
    assert.equal((await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: { ...policy, dest_registry: undefined } })).status, 400);
    const created = await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: policy });
    assert.equal(created.status, 201, created.text);
    assert.equal((await req(`${a.api}/api/v2.0/replication/policies`, { method: 'POST', body: policy })).status, 409);

    // /v2/ wants credentials, and only existing projects take pushes.
    const anon = await req(`${a.api}/v2/`, { auth: null });
    assert.equal(anon.status, 401);
    assert.match(String(anon.headers['www-authenticate']), /^Basic /);
    assert.equal((await req(`${a.api}/v2/nosuch/app/blobs/uploads/`, { method: 'POST' })).status, 404);

    const digest = await pushImage(a.api, 'kk/probe', 'v1', `event ${Date.now()}`);
    let copied = 0;
    for (let i = 0; i < 50 && copied !== 200; i++) {
      copied = (await req(`${b.api}/v2/kk/probe/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status;
      if (copied !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(copied, 200, 'the push was replicated to the peer by the event-based policy');
    const onB = await req(`${b.api}/v2/kk/probe/manifests/v1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(onB.headers['docker-content-digest'], digest);

    const policyId = Number(String(created.headers.location).split('/').pop());
    await pushImage(a.api, 'kk/backfill', 'v1', `manual ${Date.now()}`);
    const exec = await req(`${a.api}/api/v2.0/replication/executions`, { method: 'POST', body: { policy_id: policyId } });
    assert.equal(exec.status, 201);
    let status = '';
    let detail = '';
    for (let i = 0; i < 50 && status !== 'Succeed' && status !== 'Failed'; i++) {
      detail = (await req(`${a.api}${exec.headers.location}`)).text;
      status = (JSON.parse(detail) as { status: string }).status;
      if (status === 'InProgress') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 'Succeed', detail);
    assert.equal((await req(`${b.api}/v2/kk/backfill/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
    const execs = await req(`${a.api}/api/v2.0/replication/executions?policy_id=${policyId}`);
    assert.ok(Number(execs.headers['x-total-count']) >= 2);
  });
});
