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

/**
 * The lab's second non-root user: a password for SSH, and sudo without one (NOPASSWD, as cloud images set up), so
 * the tests cover both ways sudo can behave.
 */
export const NOPASSWD_USER = 'opsnp';

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
  return createHash('sha256').update(JSON.stringify({ SUITE, PACKAGES, HOSTKEYS_UNIT, SSHD_CONFIG, mirror, PASSWORD_USER, NOPASSWD_USER, v: 3 })).digest('hex').slice(0, 12);
}

interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
}

/** apt's sources in the order apt reads them: sources.list, then sources.list.d's *.list and *.sources by name. */
export function aptSources(aptDir = '/etc/apt'): { files: string[]; sources: AptSource[] } {
  const dir = path.join(aptDir, 'sources.list.d');
  const listed = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.(list|sources)$/.test(f)).sort().map((f) => path.join(dir, f)) : [];
  const files = [path.join(aptDir, 'sources.list'), ...listed].filter((f) => fs.existsSync(f));
  const sources: AptSource[] = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) sources.push(...deb822Sources(text));
    else sources.push(...oneLineSources(text));
  }
  return { files, sources };
}

/** `deb [options] uri suite [component...]` lines. */
function oneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ types: [m[1]!], uris: [m[2]!], suites: [m[3]!] });
  }
  return out;
}

/** deb822 stanzas (`Types:`, `URIs:`, `Suites:`), separated by blank lines; continuation lines and comments skipped. */
function deb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || /^\s/.test(line)) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    if (fields.get('enabled')?.toLowerCase() === 'no') continue;
    const list = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (fields.has('uris')) out.push({ types: list('types'), uris: list('uris'), suites: list('suites') });
  }
  return out;
}

/**
 * The Debian mirror this machine's apt configuration names, for debootstrap: a `deb` source carrying the lab's
 * suite, else any `deb` source of a release suite (not -security, -updates or -backports). There is no built-in
 * fallback: the lab uses only what the machine is configured to use.
 */
export function debianMirror(aptDir = '/etc/apt'): string {
  const { files, sources } = aptSources(aptDir);
  const debs = sources.filter((s) => s.types.includes('deb'));
  const release = (suite: string) => !/[-/](security|updates|backports|proposed-updates)$/.test(suite);
  const usable = (uri: string) => /^(https?|file):/.test(uri);
  const pick = debs.find((s) => s.suites.includes(SUITE)) ?? debs.find((s) => s.suites.some(release));
  const uri = pick?.uris.find(usable);
  if (!uri) {
    throw new Error(
      `no Debian mirror in this machine's apt configuration (${files.length ? files.join(', ') : `nothing in ${path.join(aptDir, 'sources.list')} or ${path.join(aptDir, 'sources.list.d')}`}): ` +
        `the lab's node image is built by debootstrap from the mirror apt uses; add a deb source for ${SUITE} (a "deb <mirror> ${SUITE} main" line or a deb822 .sources stanza)`,
    );
  }
  return uri;
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
  put(`etc/sudoers.d/${NOPASSWD_USER}`, `${NOPASSWD_USER} ALL=(ALL) NOPASSWD: ALL\n`, 0o440);
  // Consoles are not there in a container; their units would only fail.
  for (const unit of ['getty@tty1.service', 'console-getty.service', 'systemd-firstboot.service']) {
    fs.rmSync(path.join(root, 'etc/systemd/system', unit), { force: true });
    fs.symlinkSync('/dev/null', path.join(root, 'etc/systemd/system', unit));
  }
  await run('chroot', [root, 'useradd', '-m', '-s', '/bin/bash', PASSWORD_USER]);
  await run('chroot', [root, 'useradd', '-m', '-s', '/bin/bash', NOPASSWD_USER]);
  await run('chroot', [root, 'apt-get', 'clean']);
  await run('tar', ['-C', root, '-cf', `${tarball}.tmp`, '.']);
  fs.renameSync(`${tarball}.tmp`, tarball);
  fs.rmSync(root, { recursive: true, force: true });
}
