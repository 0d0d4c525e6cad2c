import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { docker, dockerOk } from './docker-engine';
import { containerName, GATEWAY, LAB_LABEL, LAB_NAME, LAB_KEY, LAB_WORKDIR, NETWORK, nodeAddress, nodeName, PASSWORD_USER, STATE_DIR, SUBNET } from './paths';
import { NOPASSWD_USER } from './node-image';
import { log, run, sleep, succeeds } from './process';

export interface LabNode {
  name: string;
  address: string;
}

/** Flags that let systemd boot in a container here (see LAB-NOTES: --privileged fails on this machine). */
const BOOT_FLAGS = [
  '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
  '--device-cgroup-rule', 'a *:* rwm',
  '--tmpfs', '/run', '--tmpfs', '/run/lock',
  '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw',
  '--cgroupns', 'host',
  // systemd as PID 1 shuts down cleanly on SIGRTMIN+3, not on SIGTERM.
  '--stop-signal', 'SIGRTMIN+3',
];

export async function ensureNetwork(): Promise<void> {
  if (await dockerOk(['network', 'inspect', NETWORK])) return;
  await docker(['network', 'create', '--driver', 'bridge', '--subnet', SUBNET, '--gateway', GATEWAY, '--label', LAB_LABEL, NETWORK]);
}

export function ensureLabKey(): { privateKeyFile: string; publicKey: string } {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  if (!fs.existsSync(LAB_KEY)) {
    require('node:child_process').execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kk-lab', '-f', LAB_KEY]);
  }
  return { privateKeyFile: LAB_KEY, publicKey: fs.readFileSync(`${LAB_KEY}.pub`, 'utf8') };
}

/** The password of the lab's non-root user, generated once per lab. */
export function passwordUserSecret(): string {
  return userSecret(PASSWORD_USER);
}

/** The SSH password of the lab's NOPASSWD-sudo user (its own, so a test can tell the two apart). */
export function nopasswdUserSecret(): string {
  return userSecret(NOPASSWD_USER);
}

function userSecret(user: string): string {
  const file = `${STATE_DIR}/${user}.password`;
  fs.mkdirSync(STATE_DIR, { recursive: true });
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(12).toString('base64url'), { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}

async function inspectState(container: string): Promise<{ running: boolean; image: string } | undefined> {
  try {
    const out = await docker(['inspect', '--format', '{{.State.Running}} {{.Config.Image}}', container]);
    const [running, image] = out.trim().split(' ');
    return { running: running === 'true', image: image! };
  } catch {
    return undefined;
  }
}

export async function ensureNode(index: number, image: string): Promise<LabNode> {
  const name = nodeName(index);
  const address = nodeAddress(index);
  const container = containerName(name);
  const state = await inspectState(container);
  if (state && state.image !== image) {
    log(`${name}: image changed, recreating`);
    await docker(['rm', '-f', container]);
  }
  if (!state || state.image !== image) {
    await docker(['run', '-d', '--name', container, '--hostname', name, '--network', NETWORK, '--ip', address, '--label', LAB_LABEL, ...BOOT_FLAGS, image, '/sbin/init']);
  } else if (!state.running) {
    await docker(['start', container]);
  }
  // `up` converges: a node left partitioned by a fault is put back on the lab network.
  const networks = await docker(['inspect', '--format', '{{json .NetworkSettings.Networks}}', container]);
  if (!(NETWORK in JSON.parse(networks))) await docker(['network', 'connect', '--ip', address, NETWORK, container]);
  return { name, address };
}

/** Waits until systemd reports the node running and root can log in over SSH with the lab key. */
export async function waitNodeReady(node: LabNode, publicKey: string): Promise<void> {
  const container = containerName(node.name);
  const deadline = Date.now() + 120_000;
  let last = '';
  for (;;) {
    // is-system-running exits non-zero for every state but `running`: its word is what counts.
    last = (await docker(['exec', container, 'sh', '-c', 'systemctl is-system-running; true']).catch((e: Error) => e.message)).trim();
    if (last === 'running' || last === 'degraded') break;
    if (Date.now() > deadline) throw new Error(`${node.name}: systemd did not finish booting (${last})`);
    await sleep(500);
  }
  if (last === 'degraded') {
    // A unit that failed (one left by a test, or one that found the machine's inotify instances exhausted) does not
    // make the node unusable: said, cleared, and the node used.
    const failed = await docker(['exec', container, 'systemctl', '--failed', '--no-legend', '--plain']);
    log(`${node.name}: systemd was degraded (${failed.trim().split('\n').map((l) => l.split(' ')[0]).join(', ')}); reset-failed`);
    await docker(['exec', container, 'systemctl', 'reset-failed']);
  }
  // A node left with sshd killed by a fault gets it back.
  await docker(['exec', container, 'systemctl', 'start', 'ssh.service']);
  // Appended, not replaced: several checkouts may share the lab's nodes, each with its own key.
  await docker(['exec', '-i', container, 'sh', '-c', 'mkdir -p -m 700 /root/.ssh && k=$(cat) && touch /root/.ssh/authorized_keys && (grep -qxF "$k" /root/.ssh/authorized_keys || printf "%s\\n" "$k" >> /root/.ssh/authorized_keys) && chmod 600 /root/.ssh/authorized_keys'], publicKey.trim());
  await docker(['exec', '-i', container, 'chpasswd'], `${PASSWORD_USER}:${passwordUserSecret()}\n${NOPASSWD_USER}:${nopasswdUserSecret()}\n`);
  while (!(await sshOk(node.address))) {
    if (Date.now() > deadline) throw new Error(`${node.name}: SSH does not answer on ${node.address}:22`);
    await sleep(500);
  }
  await pinHostKeys(node);
}

/**
 * The lab knows its nodes' host keys through a trusted channel (docker exec, not the network), so `up` pins exactly
 * those in the lab work dir's known_hosts: a node recreated by another checkout of the project is no surprise to kk.
 */
async function pinHostKeys(node: LabNode): Promise<void> {
  const keys = await docker(['exec', containerName(node.name), 'sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub']);
  const file = path.join(LAB_WORKDIR, 'known_hosts');
  fs.mkdirSync(LAB_WORKDIR, { recursive: true });
  const others = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l && l.split(' ')[0] !== node.address && l.split(' ')[0] !== `[${node.address}]:22`) : [];
  const pins = keys.split('\n').filter(Boolean).map((l) => `${node.address} ${l.split(' ').slice(0, 2).join(' ')}`);
  fs.writeFileSync(file, [...others, ...pins].join('\n') + '\n', { mode: 0o600 });
}

export function sshOk(address: string): Promise<boolean> {
  return succeeds('ssh', ['-i', LAB_KEY, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=3', `root@${address}`, 'true']);
}

/** Lab containers that exist now, by node name. */
export async function existingNodes(): Promise<string[]> {
  const out = await docker(['ps', '-a', '--filter', `label=${LAB_LABEL}`, '--format', '{{.Names}}']).catch(() => '');
  return out.split('\n').map((n) => n.trim()).filter((n) => n.startsWith(`${LAB_NAME}-`) && /^node\d+$/.test(n.slice(LAB_NAME.length + 1))).map((n) => n.slice(LAB_NAME.length + 1));
}

export async function removeNode(name: string): Promise<void> {
  await docker(['rm', '-f', containerName(name)]);
}

