import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { docker, dockerOk } from './docker-engine';
import { CACHE_DIR, PASSWORD_USER } from './paths';
import { log, run } from './process';

/** What a lab node is: Debian bookworm booting systemd, with sshd, and what an installer expects to find. */
const SUITE = 'bookworm';
const PACKAGES = [
  'systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'iproute2', 'curl', 'ca-certificates', 'procps', 'iptables', 'kmod',
  'netcat-openbsd', 'sudo', 'libdevmapper1.02.1', 'less', 'xz-utils',
];

/** Host keys are made per node on first boot (an image would otherwise give every node the same ones). */
const HOSTKEYS_UNIT = `[Unit]
Description=Generate SSH host keys for this lab node
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
`;

const SSHD_CONFIG = `PermitRootLogin prohibit-password
PasswordAuthentication yes
UseDNS no
MaxSessions 10
`;

function recipeHash(mirror: string): string {
  return createHash('sha256').update(JSON.stringify({ SUITE, PACKAGES, HOSTKEYS_UNIT, SSHD_CONFIG, mirror, PASSWORD_USER, v: 2 })).digest('hex').slice(0, 12);
}

/** The Debian mirror this machine's apt sources name. */
export function debianMirror(): string {
  const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const m = /^URIs:\s*(\S+)/m.exec(sources) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/m.exec(sources);
  return m?.[1] ?? 'http://deb.debian.org/debian';
}

/** Builds (once per recipe, cached) and returns the node image tag. */
export async function ensureNodeImage(): Promise<string> {
  const mirror = debianMirror();
  const hash = recipeHash(mirror);
  const tag = `kk-lab-node:${hash}`;
  if (await dockerOk(['image', 'inspect', tag])) return tag;
  const tarball = path.join(CACHE_DIR, `node-rootfs-${hash}.tar`);
  if (!fs.existsSync(tarball)) await buildRootfs(mirror, tarball);
  log(`importing ${tag}`);
  await docker(['import', '--change', 'CMD ["/sbin/init"]', '--change', 'ENV container=docker', tarball, tag]);
  return tag;
}

async function buildRootfs(mirror: string, tarball: string): Promise<void> {
  if (!fs.existsSync('/usr/sbin/debootstrap')) {
    log('installing debootstrap');
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'debootstrap'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const root = `${tarball}.rootfs`;
  fs.rmSync(root, { recursive: true, force: true });
  log(`debootstrap ${SUITE} from ${mirror} (takes about a minute, once)`);
  await run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, root, mirror]);
  const put = (rel: string, text: string, mode = 0o644) => {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode });
  };
  for (const key of fs.readdirSync(path.join(root, 'etc/ssh')).filter((f) => f.startsWith('ssh_host_'))) fs.rmSync(path.join(root, 'etc/ssh', key));
  put('etc/systemd/system/kk-lab-hostkeys.service', HOSTKEYS_UNIT);
  fs.mkdirSync(path.join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  fs.symlinkSync('/etc/systemd/system/kk-lab-hostkeys.service', path.join(root, 'etc/systemd/system/multi-user.target.wants/kk-lab-hostkeys.service'));
  put('etc/ssh/sshd_config.d/kk-lab.conf', SSHD_CONFIG);
  put('etc/machine-id', '');
  put('etc/hostname', 'node\n');
  put(`etc/sudoers.d/${PASSWORD_USER}`, `${PASSWORD_USER} ALL=(ALL) ALL\n`, 0o440);
  // Consoles are not there in a container; their units would only fail.
  for (const unit of ['getty@tty1.service', 'console-getty.service', 'systemd-firstboot.service']) {
    fs.rmSync(path.join(root, 'etc/systemd/system', unit), { force: true });
    fs.symlinkSync('/dev/null', path.join(root, 'etc/systemd/system', unit));
  }
  await run('chroot', [root, 'useradd', '-m', '-s', '/bin/bash', PASSWORD_USER]);
  await run('chroot', [root, 'apt-get', 'clean']);
  await run('tar', ['-C', root, '-cf', `${tarball}.tmp`, '.']);
  fs.renameSync(`${tarball}.tmp`, tarball);
  fs.rmSync(root, { recursive: true, force: true });
}
