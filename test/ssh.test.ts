import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { HostTarget } from '../config/hosts';
import { SshConnection } from '../activities/ssh/connection';
import { KnownHosts } from '../activities/ssh/known-hosts';
import { SessionPool } from '../activities/ssh/pool';
import { Semaphore } from '../activities/ssh/semaphore';
import { mustRun } from '../activities/install/remote';
import { command, sh } from '../activities/ssh/quote';
import { remoteSha256, STAGING_DIR_NAME, stagingFileName } from '../activities/ssh/upload';
import { sha256File } from '../activities/ssh/file-hash';
import { ensureMixedSudoUser, ensureNopasswdUser, ensureSudoUser, freePort, generateKey, MIXED_SUDO_USER, NOPASSWD_USER, startSshd, SUDO_USER, type TestSshd } from './support/sshd';

let sshd: TestSshd;
let sudoPassword: string;
let nopasswdPassword: string;
let mixedPassword: string;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-ssh-'));
const knownHosts = new KnownHosts(path.join(work, 'known_hosts'));

const rootTarget = (): HostTarget => ({ name: 'loop', local: false, address: '127.0.0.1', port: sshd.port, user: 'root', privateKey: sshd.clientKey });
const sudoTarget = (): HostTarget => ({ name: 'loop-user', local: false, address: '127.0.0.1', port: sshd.port, user: SUDO_USER, password: sudoPassword });
const nopasswdTarget = (): HostTarget => ({ name: 'loop-np', local: false, address: '127.0.0.1', port: sshd.port, user: NOPASSWD_USER, password: nopasswdPassword });
const mixedTarget = (): HostTarget => ({ name: 'loop-mix', local: false, address: '127.0.0.1', port: sshd.port, user: MIXED_SUDO_USER, password: mixedPassword });

async function expectFailure(p: Promise<unknown>, type: string, nonRetryable: boolean, message?: RegExp): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${err}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, nonRetryable);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected a ${type} failure`);
}

before(async () => {
  sudoPassword = ensureSudoUser();
  nopasswdPassword = ensureNopasswdUser();
  mixedPassword = ensureMixedSudoUser();
  sshd = await startSshd({ maxSessions: 3 });
});
after(async () => {
  await sshd?.stop();
});

describe('ssh connection', () => {
  it('authenticates by key as root and returns exit code, stdout and stderr', async () => {
    const conn = await SshConnection.open(rootTarget(), { knownHosts });
    const r = await conn.exec('echo out; echo err >&2; exit 3');
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n']);
    conn.close();
  });

  it('authenticates by password as a user, and runs as root through sudo with the password on stdin', async () => {
    const conn = await SshConnection.open(sudoTarget(), { knownHosts });
    assert.equal((await conn.exec('id -un')).stdout.trim(), SUDO_USER);
    const r = await conn.exec('id -u; cat', { sudo: true, stdin: 'payload' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '0\npayload', 'the password line is consumed by sudo, the rest reaches the command');
    const ps = await conn.exec('ps -eo args', { sudo: true });
    assert.ok(!ps.stdout.includes(sudoPassword), 'the sudo password never appears on a command line');
    conn.close();
  });

  it('NOPASSWD sudo: stdin reaches the command unchanged, and the password is never written into it', async () => {
    const conn = await SshConnection.open(nopasswdTarget(), { knownHosts });
    const file = path.join(work, 'nopasswd-written.json');
    const content = '{"data-root": "/var/lib/docker"}\n';
    for (let i = 0; i < 2; i++) {
      const r = await conn.exec(sh`cat > ${file}`, { sudo: true, stdin: content });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readFileSync(file, 'utf8'), content, `attempt ${i + 1}: the file holds exactly what was sent`);
      assert.equal(fs.statSync(file).uid, 0);
    }
    assert.equal((await conn.exec('id -u; cat', { sudo: true, stdin: 'payload' })).stdout, '0\npayload');
    conn.close();
  });

  it('a password-prompting sudo gets the password only at its prompt: written files hold only their content', async () => {
    for (const target of [sudoTarget(), mixedTarget()]) {
      const conn = await SshConnection.open(target, { knownHosts });
      const file = path.join(work, `prompted-${target.user}.txt`);
      for (let i = 0; i < 2; i++) {
        const r = await conn.exec(sh`cat > ${file}`, { sudo: true, stdin: 'only this\n' });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fs.readFileSync(file, 'utf8'), 'only this\n', `${target.user}, attempt ${i + 1}`);
        assert.ok(!r.stderr.includes('kk-sudo'), `markers are removed from stderr: ${r.stderr}`);
      }
      // stderr and exit codes of the command itself still come through.
      const r = await conn.exec('echo oops >&2; exit 4', { sudo: true });
      assert.deepEqual([r.code, r.stderr], [4, 'oops\n']);
      conn.close();
    }
  });

  it('a wrong password is a non-retryable authentication failure', async () => {
    await expectFailure(SshConnection.open({ ...sudoTarget(), password: 'wrong' }, { knownHosts }), 'SshAuthFailed', true, /loop-user .*authentication failed/);
  });

  it('sudo without a usable password is a non-retryable permission failure', async () => {
    const conn = await SshConnection.open({ ...sudoTarget(), password: undefined, privateKey: sshd.clientKey }, { knownHosts });
    await expectFailure(conn.exec('true', { sudo: true }), 'PermissionDenied', true, /sudo failed for kktest/);
    conn.close();
  });

  it('pins the host key on first use and refuses a changed one, saying how to accept it', async () => {
    const file = path.join(work, 'pinned_known_hosts');
    const pinned = new KnownHosts(file);
    (await SshConnection.open(rootTarget(), { knownHosts: pinned })).close();
    const line = fs.readFileSync(file, 'utf8');
    assert.match(line, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 \\S+\\n$`));
    (await SshConnection.open(rootTarget(), { knownHosts: pinned })).close();
    assert.equal(fs.readFileSync(file, 'utf8'), line, 'a known key is not pinned twice');
    // Another server on the same address and port has another key: refused.
    await sshd.stop();
    const impostor = await startSshd({ port: sshd.port, clientKey: sshd.clientKey });
    try {
      await expectFailure(SshConnection.open(rootTarget(), { knownHosts: pinned }), 'HostKeyMismatch', true, /host key of loop \(\[127\.0\.0\.1\]:\d+\) changed: .*ssh-keygen -R/);
    } finally {
      await impostor.stop();
      sshd = await startSshd({ maxSessions: 3, port: sshd.port, clientKey: sshd.clientKey, hostKeyFile: sshd.hostKeyFile });
    }
  });

  it('a host pinned with ed25519 that offers only ECDSA is refused, and the ECDSA key is not pinned', async () => {
    const file = path.join(work, 'typed_known_hosts');
    const pinned = new KnownHosts(file);
    (await SshConnection.open(rootTarget(), { knownHosts: pinned })).close();
    const line = fs.readFileSync(file, 'utf8');
    assert.match(line, / ssh-ed25519 /);
    await sshd.stop();
    const ecdsaOnly = await startSshd({ port: sshd.port, clientKey: sshd.clientKey, hostKeyFile: generateKey(work, `ecdsa_host_${Date.now()}`, 'ecdsa') });
    try {
      await expectFailure(SshConnection.open(rootTarget(), { knownHosts: pinned }), 'HostKeyMismatch', true, /host key of loop \(\[127\.0\.0\.1\]:\d+\) changed: pinned ssh-ed25519.*ssh-keygen -R/);
      assert.equal(fs.readFileSync(file, 'utf8'), line, 'nothing new is pinned');
    } finally {
      await ecdsaOnly.stop();
      sshd = await startSshd({ maxSessions: 3, port: sshd.port, clientKey: sshd.clientKey, hostKeyFile: sshd.hostKeyFile });
    }
  });

  it('pinning is per host: the verifier refuses a key of an unpinned type even when the negotiation allowed it', async () => {
    const pinned = new KnownHosts(path.join(work, 'verify_known_hosts'));
    const blob = (file: string) => Buffer.from(fs.readFileSync(`${file}.pub`, 'utf8').split(' ')[1]!, 'base64');
    const ed = blob(generateKey(work, `verify_ed_${Date.now()}`));
    const ec = blob(generateKey(work, `verify_ec_${Date.now()}`, 'ecdsa'));
    await pinned.verify('h', '10.0.0.1', 22, ed);
    await expectFailure(pinned.verify('h', '10.0.0.1', 22, ec), 'HostKeyMismatch', true, /pinned ssh-ed25519, offered only ecdsa-sha2-nistp256/);
    assert.deepEqual(pinned.pinnedTypes('10.0.0.1', 22), ['ssh-ed25519']);
  });

  it('a host pinned with ECDSA that also holds an ed25519 key is reached with the pinned ECDSA key', async () => {
    const file = path.join(work, 'ecdsa_known_hosts');
    const ecKey = generateKey(work, `both_ec_${Date.now()}`, 'ecdsa');
    const both = await startSshd({ clientKey: sshd.clientKey, hostKeyFile: ecKey });
    try {
      const pinned = new KnownHosts(file);
      const target = { ...rootTarget(), port: both.port };
      (await SshConnection.open(target, { knownHosts: pinned })).close();
      assert.match(fs.readFileSync(file, 'utf8'), / ecdsa-sha2-nistp256 /);
      await both.stop();
      const withEd = await startSshd({ port: both.port, clientKey: sshd.clientKey, hostKeyFile: generateKey(work, `both_ed_${Date.now()}`), moreHostKeys: [ecKey] });
      try {
        const conn = await SshConnection.open(target, { knownHosts: pinned });
        assert.equal((await conn.exec('echo ok')).stdout, 'ok\n');
        conn.close();
        assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /ssh-ed25519/, 'the ed25519 key was never offered, so never pinned');
      } finally {
        await withEd.stop();
      }
    } finally {
      await both.stop();
    }
  });

  it('an unreachable host is a retryable failure', async () => {
    await expectFailure(SshConnection.open({ ...rootTarget(), port: await freePort() }, { knownHosts }), 'SshUnreachable', false, /ECONNREFUSED/);
  });

  it('a command past its timeout is a retryable failure', async () => {
    const conn = await SshConnection.open(rootTarget(), { knownHosts });
    await expectFailure(conn.exec('sleep 5', { timeoutMs: 300 }), 'SshTimeout', false);
    conn.close();
  });

  it('keeps under the server session limit: 8 parallel commands on a MaxSessions=3 server all succeed', async () => {
    const conn = await SshConnection.open(rootTarget(), { knownHosts, channelLimit: 2 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => conn.exec(`sleep 0.2; echo ${i}`)));
    assert.deepEqual(results.map((r) => r.stdout.trim()), ['0', '1', '2', '3', '4', '5', '6', '7']);
    conn.close();
  });

  it('quotes every word: hostile strings arrive byte for byte', async () => {
    const conn = await SshConnection.open(rootTarget(), { knownHosts });
    const hostile = `it's $HOME \`id\` ; rm -rf / "x" \\ \n end`;
    assert.equal((await conn.exec(command('printf', '%s', hostile))).stdout, hostile);
    assert.equal((await conn.exec(sh`printf %s ${hostile} | wc -c`)).stdout.trim(), String(Buffer.byteLength(hostile)));
    conn.close();
  });

  it('the pool reuses one connection per host and reconnects after it dropped', async () => {
    const pool = new SessionPool({ knownHosts });
    const a = await pool.get(rootTarget());
    assert.equal(await pool.get(rootTarget()), a);
    (a as SshConnection).destroySocket();
    await new Promise((r) => setTimeout(r, 200));
    const b = await pool.get(rootTarget());
    assert.notEqual(b, a);
    assert.equal((await b.exec('echo ok')).stdout, 'ok\n');
    pool.closeAll();
  });
});

describe('upload', () => {
  const big = path.join(work, 'big.bin');
  before(() => fs.writeFileSync(big, randomBytes(12 * 1024 * 1024)));

  it('sends, verifies sha256 on the host, and skips a file the host already has', async () => {
    const conn = await SshConnection.open(rootTarget(), { knownHosts });
    const dest = path.join(work, 'remote', 'a', 'big.bin');
    const first = await conn.upload(big, dest, { mode: 0o640 });
    assert.equal(first.skipped, false);
    assert.equal(first.bytesSent, 12 * 1024 * 1024);
    assert.equal(await sha256File(dest), await sha256File(big));
    assert.equal(fs.statSync(dest).mode & 0o777, 0o640);
    const again = await conn.upload(big, dest);
    assert.deepEqual([again.skipped, again.bytesSent], [true, 0]);
    conn.close();
  });

  it('resumes after the connection drops mid-transfer, sending only the rest, and verifies', async () => {
    const dest = path.join(work, 'remote', 'resume', 'big.bin');
    const conn = await SshConnection.open(rootTarget(), { knownHosts });
    let dropped = false;
    await expectFailure(
      conn.upload(big, dest, {
        onProgress: (offset) => {
          if (!dropped && offset > 4 * 1024 * 1024) {
            dropped = true;
            conn.destroySocket();
          }
        },
      }),
      'SshConnectionLost',
      false,
    );
    assert.ok(!fs.existsSync(dest), 'nothing is put in place before it is verified');
    const conn2 = await SshConnection.open(rootTarget(), { knownHosts });
    const resumed = await conn2.upload(big, dest);
    assert.ok(resumed.resumedFrom > 0, `resumed from ${resumed.resumedFrom}`);
    assert.ok(resumed.bytesSent < 12 * 1024 * 1024 - resumed.resumedFrom + 1 && resumed.bytesSent > 0);
    assert.equal(resumed.bytesSent + resumed.resumedFrom, 12 * 1024 * 1024);
    assert.equal(await remoteSha256(conn2, dest), await sha256File(big));
    conn2.close();
  });

  it('a corrupted staging file is detected by its hash and sent again', async () => {
    const dest = path.join(work, 'remote', 'corrupt', 'big.bin');
    const sha = await sha256File(big);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    // A previous transfer left a same-length staging file with wrong bytes (root logs in: its staging dir is root's).
    const staging = path.join(os.homedir(), STAGING_DIR_NAME, stagingFileName(sha));
    fs.mkdirSync(path.dirname(staging), { recursive: true, mode: 0o700 });
    fs.writeFileSync(staging, randomBytes(12 * 1024 * 1024));
    const conn = await SshConnection.open(rootTarget(), { knownHosts });
    await expectFailure(conn.upload(big, dest), 'UploadCorrupt', false);
    const retry = await conn.upload(big, dest);
    assert.equal(retry.resumedFrom, 0);
    assert.equal(await sha256File(dest), sha);
    conn.close();
  });

  it('a non-root user stages in its own 0700 directory and sudo moves the file into a root-owned place', async () => {
    const conn = await SshConnection.open(sudoTarget(), { knownHosts });
    const dest = path.join(work, 'remote', 'root-only', 'big.bin');
    fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
    const r = await conn.upload(big, dest);
    assert.equal(r.skipped, false);
    assert.equal(fs.statSync(dest).uid, 0);
    assert.equal(await sha256File(dest), await sha256File(big));
    const stagingDir = path.join(os.userInfo().uid === 0 ? `/home/${SUDO_USER}` : os.homedir(), STAGING_DIR_NAME);
    const st = fs.lstatSync(stagingDir);
    assert.ok(st.isDirectory() && (st.mode & 0o777) === 0o700, 'the staging directory is a real 0700 directory');
    assert.deepEqual(fs.readdirSync(stagingDir), [], 'nothing is left staged');
    conn.close();
  });

  it('a home directory others can write (or that the login user does not own) is refused before anything is staged there', async () => {
    const home = `/home/${SUDO_USER}`;
    const st = fs.statSync(home);
    const dest = path.join(work, 'remote', 'shared-home', 'big.bin');
    const conn = await SshConnection.open(sudoTarget(), { knownHosts });
    try {
      for (const [change, why] of [[() => fs.chmodSync(home, 0o775), /home directory \/home\/\S+ is writable by other users \(drwxrwxr-x\).*chmod go-w/], [() => fs.chownSync(home, 0, st.gid), /home directory \/home\/\S+ is not owned by/]] as const) {
        fs.rmSync(path.join(home, STAGING_DIR_NAME), { recursive: true, force: true });
        change();
        try {
          await expectFailure(conn.upload(big, dest), 'PermissionDenied', true, why);
          assert.ok(!fs.existsSync(path.join(home, STAGING_DIR_NAME)), 'nothing staged');
        } finally {
          fs.chownSync(home, st.uid, st.gid);
          fs.chmodSync(home, st.mode & 0o7777);
        }
      }
    } finally {
      conn.close();
    }
  });

  it("files and symlinks planted at the old /tmp and beside-the-target staging names are never written through", async () => {
    const sha = await sha256File(big);
    const victim = path.join(work, 'victim.conf');
    fs.writeFileSync(victim, 'root-owned contents\n', { mode: 0o644 });
    const planted = [`/tmp/.kkupload-${SUDO_USER}-${sha.slice(0, 16)}`];
    const destRoot = path.join(work, 'remote', 'planted-root', 'big.bin');
    const destUser = path.join(work, 'remote', 'planted-user', 'big.bin');
    for (const d of [destRoot, destUser]) {
      fs.mkdirSync(path.dirname(d), { recursive: true });
      planted.push(`${d}.kkpart-${sha.slice(0, 12)}`);
    }
    for (const p of planted) {
      fs.rmSync(p, { force: true });
      fs.symlinkSync(victim, p);
    }
    try {
      for (const [target, dest] of [[rootTarget(), destRoot], [sudoTarget(), destUser]] as const) {
        const conn = await SshConnection.open(target, { knownHosts });
        await conn.upload(big, dest);
        assert.equal(await sha256File(dest), sha, target.user);
        conn.close();
      }
      assert.equal(fs.readFileSync(victim, 'utf8'), 'root-owned contents\n', 'the symlinks\' target is untouched');
    } finally {
      for (const p of planted) fs.rmSync(p, { force: true });
    }
  });

  it('a symlink at the target or at the staging directory is replaced, not followed', async () => {
    const victim = path.join(work, 'victim2.conf');
    fs.writeFileSync(victim, 'keep me\n');
    const dest = path.join(work, 'remote', 'link-target', 'big.bin');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.symlinkSync(victim, dest);
    const home = `/home/${SUDO_USER}`;
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-elsewhere-'));
    fs.chmodSync(elsewhere, 0o777);
    fs.rmSync(path.join(home, STAGING_DIR_NAME), { recursive: true, force: true });
    fs.symlinkSync(elsewhere, path.join(home, STAGING_DIR_NAME));
    const conn = await SshConnection.open(sudoTarget(), { knownHosts });
    await conn.upload(big, dest);
    conn.close();
    assert.ok(fs.lstatSync(dest).isFile(), 'the target is now a regular file');
    assert.equal(await sha256File(dest), await sha256File(big));
    assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me\n');
    assert.ok(fs.lstatSync(path.join(home, STAGING_DIR_NAME)).isDirectory());
    assert.deepEqual(fs.readdirSync(elsewhere), [], 'nothing was staged through the symlink');
  });

  it('the hash is checked at the final path, after the move into place', async () => {
    const dest = path.join(work, 'remote', 'tampered', 'big.bin');
    const mark = path.join(work, 'tampered.mark');
    const wrapper = path.join(work, 'tamper-wrapper.sh');
    // Runs each command; the first time the target exists afterwards (right after the move), appends a byte to it.
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\n[ "$SSH_ORIGINAL_COMMAND" = internal-sftp ] && exec /usr/lib/openssh/sftp-server\n/bin/sh -c "$SSH_ORIGINAL_COMMAND"; rc=$?\n` +
        `if [ -f ${dest} ] && [ ! -e ${mark} ]; then printf x >> ${dest}; touch ${mark}; fi\nexit $rc\n`,
      { mode: 0o755 },
    );
    const tampering = await startSshd({ clientKey: sshd.clientKey, forceCommand: wrapper });
    try {
      const conn = await SshConnection.open({ ...rootTarget(), port: tampering.port }, { knownHosts: new KnownHosts(path.join(work, 'tamper_known_hosts')) });
      await expectFailure(conn.upload(big, dest), 'UploadCorrupt', false, /after the move into place/);
      const retry = await conn.upload(big, dest);
      assert.equal(retry.skipped, false);
      assert.equal(await sha256File(dest), await sha256File(big));
      conn.close();
    } finally {
      await tampering.stop();
    }
  });
});

describe('channel semaphore', () => {
  it('hands a released slot to the oldest waiter: a newcomer in between waits its turn and the limit holds', async () => {
    const s = new Semaphore(1);
    const order: string[] = [];
    let active = 0;
    let peak = 0;
    const job = (name: string, hold?: Promise<void>) => async () => {
      peak = Math.max(peak, ++active);
      order.push(name);
      await hold;
      active--;
    };
    let release!: () => void;
    let held!: Promise<void>;
    const a = s.use(() => {
      order.push('a');
      return (held = new Promise<void>((r) => (release = r)));
    });
    const b = s.use(job('b'));
    // Runs right after the semaphore's own continuation (which releases a's slot) and before b wakes up: the moment
    // a newcomer could jump the queue.
    let c!: Promise<void>;
    void held.then(() => (c = s.use(job('c'))));
    release();
    await a;
    await b;
    await c;
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(peak, 1);
  });
});

describe('remote commands (mustRun) over a real session', () => {
  it('a non-zero exit is a non-retryable CommandFailed naming the step and exit code, without stdin; a transient step\'s is a retryable NotReady, but a refused login is not retried', async () => {
    const conn = await SshConnection.open(sudoTarget(), { knownHosts });
    try {
      const secret = `s3cret-${randomBytes(6).toString('hex')}`;
      const failed = await expectFailure(mustRun(conn, 'cat >/dev/null; echo "bad value in config.yml" >&2; exit 7', 'applying the registry config', { stdin: secret }), 'CommandFailed', true, /^loop-user \(kktest@127\.0\.0\.1:\d+\): applying the registry config failed \(exit 7\): bad value in config\.yml$/);
      assert.ok(!failed.message.includes(secret) && !failed.message.includes(sudoPassword), failed.message);
      await expectFailure(mustRun(conn, 'echo "Cannot connect to the Docker daemon" >&2; exit 1', 'waiting for docker', { transient: true }), 'NotReady', false, /waiting for docker failed \(exit 1\): Cannot connect/);
      // What docker login and ctr print when the registry refuses the credentials: deterministic, so not retried.
      for (const said of ['Error response from daemon: login attempt to https://10.0.0.1/v2/ failed with status: 401 Unauthorized', 'Error response from daemon: Get "https://10.0.0.1/v2/": unauthorized: authentication required', 'ctr: failed to resolve reference "10.0.0.1/kk/probe:latest": pulling from host 10.0.0.1 failed with status code [manifests latest]: 401 Unauthorized']) {
        const refused = await expectFailure(mustRun(conn, sh`cat >/dev/null; printf '%s\n' ${said} >&2; exit 1`, 'logging in to 10.0.0.1', { transient: true, stdin: secret }), 'CommandFailed', true, /logging in to 10\.0\.0\.1 failed \(exit 1\): the registry refused the credentials \(HTTP 401\): check image_registry\.auth/);
        assert.ok(!refused.message.includes(secret));
      }
      // A proxy asking for its own credentials (407) is not the registry refusing image_registry.auth: retried, not blamed on it.
      const proxy = await expectFailure(mustRun(conn, sh`printf '%s\n' ${'Error response from daemon: Get "https://10.0.0.1/v2/": proxyconnect tcp: 407 Proxy Authentication Required'} >&2; exit 1`, 'logging in to 10.0.0.1', { transient: true }), 'NotReady', false, /logging in to 10\.0\.0\.1 failed \(exit 1\): Error response/);
      assert.doesNotMatch(proxy.message, /image_registry\.auth/);
      assert.equal((await mustRun(conn, 'id -u', 'who')).stdout, '0\n');
    } finally {
      conn.close();
    }
  });
});
