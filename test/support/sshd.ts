import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../runtime/dev-server';

/** A real OpenSSH server on loopback, started by the tests themselves (root, on a machine with openssh-server). */
export interface TestSshd {
  port: number;
  dir: string;
  /** Private key authorised for every user of this server. */
  clientKey: string;
  /** Its (first) host key, to start a server with the same identity again. */
  hostKeyFile: string;
  stop(): Promise<void>;
}

export const SUDO_USER = 'kktest';
/** A user whose sudo needs no password (cloud images' default), though it has one for SSH. */
export const NOPASSWD_USER = 'kktestnp';
/** A user whose sudo asks for the password, except for `sh` (NOPASSWD): the probe fails, yet kk's commands get no prompt. */
export const MIXED_SUDO_USER = 'kktestmix';

export { freePort };

export function generateKey(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'kk-test', '-f', file]);
  return file;
}

export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface SshdOptions {
  maxSessions?: number;
  /** sshd's ForceCommand: every command goes through this script (which runs "$SSH_ORIGINAL_COMMAND"). */
  forceCommand?: string;
  clientKey?: string;
  hostKeyFile?: string;
  /** Further host keys the server offers (sshd -o HostKey=… for each), e.g. one of another type. */
  moreHostKeys?: string[];
  port?: number;
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  const sshd = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => fs.existsSync(p));
  if (!sshd) throw new Error('sshd not found: install openssh-server (scripts/ensure-deps.sh does)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-sshd-'));
  fs.chmodSync(dir, 0o755);
  const hostKey = options.hostKeyFile ?? generateKey(dir, 'host_key');
  const clientKeyFile = options.clientKey ? undefined : generateKey(dir, 'client_key');
  const clientKey = options.clientKey ?? fs.readFileSync(clientKeyFile!, 'utf8');
  const pub = clientKeyFile ? fs.readFileSync(`${clientKeyFile}.pub`, 'utf8') : publicKeyOf(clientKey, dir);
  fs.writeFileSync(path.join(dir, 'authorized_keys'), pub, { mode: 0o644 });
  const port = options.port ?? (await freePort());
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    ...(options.moreHostKeys ?? []).map((k) => `HostKey ${k}`),
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'PermitRootLogin yes',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    `MaxSessions ${options.maxSessions ?? 10}`,
    'LogLevel ERROR',
    'Subsystem sftp internal-sftp',
    ...(options.forceCommand ? [`ForceCommand ${options.forceCommand}`] : []),
  ];
  fs.writeFileSync(path.join(dir, 'sshd_config'), config.join('\n') + '\n');
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child: ChildProcess = spawn(sshd, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port);
  } catch (err) {
    child.kill();
    throw new Error(`sshd did not start: ${stderr || (err as Error).message}`);
  }
  return {
    port,
    dir,
    clientKey,
    hostKeyFile: hostKey,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function publicKeyOf(privateKey: string, dir: string): string {
  const file = path.join(dir, `given_key_${randomBytes(4).toString('hex')}`);
  fs.writeFileSync(file, privateKey, { mode: 0o600 });
  return execFileSync('ssh-keygen', ['-y', '-f', file]).toString();
}

/** A non-root user with a password and password-protected sudo, for the sudo paths. Returns its password. */
export function ensureSudoUser(): string {
  return ensureUser(SUDO_USER, `${SUDO_USER} ALL=(ALL) ALL\n`);
}

/** A non-root user with a password and NOPASSWD sudo. Returns its password. */
export function ensureNopasswdUser(): string {
  return ensureUser(NOPASSWD_USER, `${NOPASSWD_USER} ALL=(ALL) NOPASSWD: ALL\n`);
}

/** A non-root user whose sudo asks for its password except for `sh`. Returns its password. */
export function ensureMixedSudoUser(): string {
  const shells = ['/bin/sh', '/usr/bin/sh'].filter((p) => fs.existsSync(p)).join(', ');
  return ensureUser(MIXED_SUDO_USER, `${MIXED_SUDO_USER} ALL=(ALL) ALL\n${MIXED_SUDO_USER} ALL=(ALL) NOPASSWD: ${shells}\n`);
}

function ensureUser(user: string, sudoers: string): string {
  if (process.getuid?.() !== 0) throw new Error('the SSH tests run as root (they create test users)');
  if (!fs.existsSync('/usr/bin/sudo')) throw new Error('sudo is not installed: run scripts/ensure-deps.sh');
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  try {
    execFileSync('id', [user], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', user]);
  }
  execFileSync('chpasswd', { input: `${user}:${password}\n` });
  fs.writeFileSync(`/etc/sudoers.d/${user}`, sudoers, { mode: 0o440 });
  return password;
}
