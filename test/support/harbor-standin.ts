import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { distributionBinary } from '../../lab/artifacts/distribution';
import { goBinary, goBuildEnv } from '../../lab/go';
import { ensureRegistryPki } from '../../pki';
import { freePorts } from '../../runtime/dev-server';
import { waitForPort } from './sshd';

/**
 * Harbor stand-ins on loopback for tests: the lab's stand-in built from source, each in front of a real distribution
 * registry (delete enabled, as Harbor's is), TLS with a certificate from kk's own CA, the CA trusted for peers.
 */
export interface StandinSite {
  name: string;
  /** `https://127.0.0.1:<port>`: the API and the registry front. */
  api: string;
  httpsPort: number;
  registry: string;
  /** Stops the site's distribution registry (health then reports it), and starts it again on the same port. */
  stopRegistry(): Promise<void>;
  startRegistry(): Promise<void>;
  /** Restarts the stand-in itself (its state kept), with `harbor_admin_password` set to `adminPassword` in its config. */
  restartCore(adminPassword: string): Promise<void>;
  /** Stops the stand-in itself (its API then does not answer), and starts it again on the same ports. */
  stopCore(): Promise<void>;
  startCore(): Promise<void>;
}

export interface StandinLab {
  dir: string;
  ca: string;
  caPath: string;
  agent: https.Agent;
  sites: StandinSite[];
  stop(): void;
}

export async function startStandins(dir: string, names: string[], options: { password: string; statusRefreshSeconds?: number }): Promise<StandinLab> {
  const children: ChildProcess[] = [];
  const start = (file: string, args: string[]) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    return child;
  };
  const pki = await ensureRegistryPki(path.join(dir, 'work'), ['localhost', '127.0.0.1']);
  fs.mkdirSync(path.join(dir, 'cacerts'), { recursive: true });
  const caPath = path.join(dir, 'cacerts', 'ca.crt');
  fs.writeFileSync(caPath, pki.caCert);
  fs.writeFileSync(path.join(dir, 'server.crt'), pki.serverCert);
  fs.writeFileSync(path.join(dir, 'server.key'), pki.serverKey);
  const standin = path.join(dir, 'harbor-standin');
  await promisify(execFile)(goBinary(), ['build', '-o', standin, '.'], { cwd: path.join(__dirname, '..', '..', 'lab', 'harbor-standin'), env: goBuildEnv() });
  const registryBin = await distributionBinary();
  const sites: StandinSite[] = [];
  // Every site's three ports at once: a registry still starting has not bound its port yet.
  const ports = await freePorts(3 * names.length);
  for (const [i, name] of names.entries()) {
    const [regPort, httpPort, httpsPort] = ports.slice(3 * i, 3 * i + 3) as [number, number, number];
    const root = path.join(dir, name);
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    fs.writeFileSync(path.join(root, 'registry.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}/blobs\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${regPort}\n`);
    let registry = start(registryBin, ['serve', path.join(root, 'registry.yml')]);
    const config = { hostname: '127.0.0.1', admin_password: options.password, registry_url: `http://127.0.0.1:${regPort}`, https: true, external_port: httpsPort, execution_status_refresh_seconds: options.statusRefreshSeconds ?? 1 };
    fs.writeFileSync(path.join(root, 'config.json'), JSON.stringify(config));
    const serveArgs = ['serve', '--config', path.join(root, 'config.json'), '--data', path.join(root, 'data'), '--http', `127.0.0.1:${httpPort}`, '--https', `127.0.0.1:${httpsPort}`, '--cert', path.join(dir, 'server.crt'), '--key', path.join(dir, 'server.key'), '--cust-cert-dir', path.join(dir, 'cacerts')];
    let core = start(standin, serveArgs);
    await waitForPort(regPort);
    await waitForPort(httpsPort);
    sites.push({
      name,
      api: `https://127.0.0.1:${httpsPort}`,
      httpsPort,
      registry: `http://127.0.0.1:${regPort}`,
      async stopRegistry() {
        const exited = new Promise((r) => registry.once('exit', r));
        registry.kill();
        await exited;
      },
      async startRegistry() {
        registry = start(registryBin, ['serve', path.join(root, 'registry.yml')]);
        await waitForPort(regPort);
      },
      async restartCore(adminPassword: string) {
        await this.stopCore();
        fs.writeFileSync(path.join(root, 'config.json'), JSON.stringify({ ...config, admin_password: adminPassword }));
        await this.startCore();
      },
      async stopCore() {
        const exited = new Promise((r) => core.once('exit', r));
        core.kill();
        await exited;
      },
      async startCore() {
        core = start(standin, serveArgs);
        await waitForPort(httpsPort);
      },
    });
  }
  return { dir, ca: pki.caCert, caPath, agent: new https.Agent({ ca: pki.caCert }), sites, stop: () => children.forEach((c) => c.kill()) };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTPS request verified with the CA; `user` null sends no credential. */
export function request(
  agent: https.Agent,
  url: string,
  init: { method?: string; body?: unknown; user?: string | null; password?: string; headers?: Record<string, string>; raw?: Buffer } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.user !== null && init.user !== undefined) headers.authorization = `Basic ${Buffer.from(`${init.user}:${init.password ?? ''}`).toString('base64')}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const r = https.request(new URL(url), { method: init.method ?? 'GET', headers, agent }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    r.on('error', reject);
    r.end(init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)));
  });
}

/** Pushes a one-layer OCI image through a stand-in's /v2/ (monolithic blob uploads, then the manifest). */
export async function pushImage(agent: https.Agent, base: string, auth: { user: string; password: string }, repo: string, tag: string, content: string): Promise<string> {
  const blob = async (data: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const start = await request(agent, `${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', ...auth });
    assert.equal(start.status, 202, start.text);
    const loc = new URL(String(start.headers.location), base);
    loc.searchParams.set('digest', digest);
    const put = await request(agent, loc.toString(), { method: 'PUT', raw: data, headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) }, ...auth });
    assert.equal(put.status, 201, put.text);
    return { digest, size: data.length };
  };
  const layer = await blob(Buffer.from(content));
  const config = await blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }] }));
  const put = await request(agent, `${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', raw: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, ...auth });
  assert.equal(put.status, 201, put.text);
  return `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

/** Polls `check` until it returns true or the time is up; returns the last value. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000, intervalMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
