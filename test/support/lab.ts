import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SshConnection } from '../../activities/ssh/connection';
import { KnownHosts } from '../../activities/ssh/known-hosts';
import type { HostTarget } from '../../config/hosts';
import type { LabFile } from '../../lab/lab-file';
import { LAB_JSON, LAB_KEY } from '../../lab/paths';

const MAIN = path.resolve(__dirname, '..', '..', 'lab', 'main.ts');

/** Runs the lab command (`npm run lab -- ARGS`). */
export function lab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Recreates every node from the image: fresh hosts, whatever ran on them before (e.g. `npm run demo`). */
export async function resetNodes(labFile: LabFile): Promise<void> {
  for (const n of labFile.nodes) {
    const r = await lab(['reset', n.name]);
    if (r.code !== 0) throw new Error(`lab reset ${n.name} failed: ${r.stderr}`);
  }
}

/** Brings the lab up (idempotent) and returns lab.json. */
export async function labUp(nodes = 3): Promise<LabFile> {
  // KK_LAB_AS_IS=1: use the lab as it stands (while developing, when its artifacts' sources are mid-change).
  if (process.env.KK_LAB_AS_IS === '1' && fs.existsSync(LAB_JSON)) return JSON.parse(fs.readFileSync(LAB_JSON, 'utf8')) as LabFile;
  const r = await lab(['up', '--nodes', String(nodes)]);
  if (r.code !== 0) throw new Error(`lab up failed: ${r.stderr}`);
  return JSON.parse(fs.readFileSync(LAB_JSON, 'utf8')) as LabFile;
}

export function labTarget(node: { name: string; address: string }): HostTarget {
  return { name: node.name, local: false, address: node.address, port: 22, user: 'root', privateKey: fs.readFileSync(LAB_KEY, 'utf8') };
}

export const labKnownHosts = () => new KnownHosts(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kk-labkh-')), 'known_hosts'));

export async function labSsh(node: { name: string; address: string }, knownHosts = labKnownHosts(), readyTimeoutMs = 5000): Promise<SshConnection> {
  return SshConnection.open(labTarget(node), { knownHosts, readyTimeoutMs });
}

/** A version the lab built, from its --set string (e.g. `docker_registry_version`). */
export function labVersion(labFile: LabFile, key: string): string {
  const m = new RegExp(`(?:^|,)${key}=([^,]+)`).exec(`${labFile.set['docker-registry']},${labFile.set.harbor}`);
  if (!m) throw new Error(`lab.json has no ${key}`);
  return m[1]!;
}

/** Runs a command as root on a lab node; a non-zero exit fails the test with the node, command and stderr. */
export async function onNode(labFile: LabFile, node: string, cmd: string, stdin?: string): Promise<string> {
  const conn = await labSsh(labFile.nodes.find((n) => n.name === node)!);
  try {
    const r = await conn.exec(cmd, { sudo: true, timeoutMs: 180_000, stdin });
    if (r.code !== 0) throw new Error(`${node}: ${cmd}\n${r.stderr}`);
    return r.stdout;
  } finally {
    conn.close();
  }
}

/**
 * An inventory of every lab node (logged in as root with the lab key, or as `hosts` gives them) with the given
 * image_registry group, written into `dir` (0600: it may hold passwords).
 */
export function labInventory(labFile: LabFile, dir: string, name: string, registryNodes: string[], options: { hosts?: Record<string, unknown>; groups?: Record<string, unknown> } = {}): string {
  const hosts = options.hosts ?? Object.fromEntries(labFile.nodes.map((n) => [n.name, { connector: { host: n.address, private_key: LAB_KEY }, internal_ipv4: n.address }]));
  const file = path.join(dir, `${name}.yaml`);
  const doc = { apiVersion: 'kubekey.kubesphere.io/v1', kind: 'Inventory', metadata: { name }, spec: { hosts, groups: { ...options.groups, image_registry: { hosts: registryNodes } } } };
  fs.writeFileSync(file, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return file;
}
