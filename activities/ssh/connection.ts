import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Client, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import { describeHost, type HostTarget } from '../../config/hosts';
import { classifyConnectError, hostFailure } from './errors';
import { KnownHosts } from './known-hosts';
import { command } from './quote';
import { Semaphore } from './semaphore';
import { TailBuffer, type ExecOptions, type ExecResult, type HostSession, type UploadOptions, type UploadResult } from './session';
import { uploadOverSftp } from './upload';

export interface ConnectionSettings {
  knownHosts: KnownHosts;
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Channels open at once on this connection; below OpenSSH's MaxSessions (10), one is kept for SFTP. */
  channelLimit?: number;
}

/** How this connection becomes root: sudo needs no password, or sudo asks for the inventory password. */
type SudoMode = 'nopasswd' | 'password';

/** One SSH connection to one host, shared by every step that runs there. */
export class SshConnection implements HostSession {
  private readonly channels: Semaphore;
  private sftpSession?: Promise<SFTPWrapper>;
  private sudoChecked?: Promise<SudoMode>;
  /**
   * Random per connection, so neither can be confused with a command's own output: sudo prints PROMPT on stderr when
   * (and only when) it wants the password, and the wrapped command prints STARTED on stderr before it runs.
   */
  private readonly marker = randomBytes(12).toString('hex');
  private closedFlag = false;

  private constructor(
    readonly target: HostTarget,
    private readonly client: Client,
    channelLimit: number,
  ) {
    this.channels = new Semaphore(channelLimit);
    client.on('close', () => (this.closedFlag = true));
    client.on('end', () => (this.closedFlag = true));
    client.on('error', () => (this.closedFlag = true));
  }

  onClose(listener: () => void): void {
    this.client.on('close', listener);
  }

  offClose(listener: () => void): void {
    this.client.removeListener('close', listener);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get isRoot(): boolean {
    return this.target.user === 'root';
  }

  static open(target: HostTarget, settings: ConnectionSettings): Promise<SshConnection> {
    const where = describeHost(target);
    return new Promise((resolve, reject) => {
      const client = new Client();
      let mismatch: Error | undefined;
      const pinnedAlgorithms = settings.knownHosts.hostKeyAlgorithms(target.address, target.port);
      const config: ConnectConfig = {
        host: target.address,
        port: target.port,
        username: target.user,
        password: target.password,
        privateKey: target.privateKey,
        passphrase: target.passphrase,
        tryKeyboard: target.password !== undefined,
        ...(pinnedAlgorithms && { algorithms: { serverHostKey: pinnedAlgorithms as ServerHostKeyAlgorithm[] } }),
        readyTimeout: settings.readyTimeoutMs ?? 20_000,
        keepaliveInterval: settings.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: settings.keepaliveCountMax ?? 3,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          settings.knownHosts.verify(target.name, target.address, target.port, key).then(
            () => verify(true),
            (err: Error) => {
              mismatch = err;
              verify(false);
            },
          );
        },
      };
      client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => target.password ?? '')));
      const onError = (err: Error) => {
        client.removeListener('ready', onReady);
        // A failed handshake may be followed by a reset from the server: nobody listens any more, and an unheard
        // 'error' would crash the worker.
        client.on('error', () => undefined);
        client.end();
        // Offered only the pinned key types, a server without one fails the negotiation: that is a changed host.
        if (!mismatch && pinnedAlgorithms && /no matching host key/i.test(err.message)) mismatch = settings.knownHosts.noPinnedTypeFailure(target.name, target.address, target.port);
        reject(mismatch ?? classifyConnectError(err, where));
      };
      const onReady = () => {
        client.removeListener('error', onError);
        resolve(new SshConnection(target, client, settings.channelLimit ?? 8));
      };
      client.once('error', onError);
      client.once('ready', onReady);
      try {
        client.connect(config);
      } catch (err) {
        onError(err as Error);
      }
    });
  }

  async exec(cmd: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (!options.sudo || this.isRoot) return this.channels.use(() => this.run(cmd, options.stdin, options));
    const mode = await this.ensureSudo();
    if (mode === 'nopasswd') return this.channels.use(() => this.run(`${command('sudo', '-n', '--', 'sh', '-c')} ${command(cmd)}`, options.stdin, options));
    // The password goes to sudo only when sudo prompts for it, and the command's stdin only once the command runs:
    // a cached timestamp or a NOPASSWD rule for this command means no prompt, and the password must not become input.
    const wrapped = `${command('sudo', '-S', '-p', this.promptMarker, '--', 'sh', '-c')} ${command(`printf '%s\\n' ${this.startMarker} >&2\n${cmd}`)}`;
    return this.channels.use(() => this.run(wrapped, options.stdin, options, this.target.password));
  }

  private get promptMarker(): string {
    return `[kk-sudo-prompt-${this.marker}]`;
  }

  private get startMarker(): string {
    return `kk-sudo-started-${this.marker}`;
  }

  /**
   * Decides once per connection how to become root, and checks it works, so a wrong password is reported as such
   * (and not retried): `sudo -n` when sudo needs no password (NOPASSWD), else `sudo -S` with the password given at
   * its prompt.
   */
  private ensureSudo(): Promise<SudoMode> {
    this.sudoChecked ??= (async (): Promise<SudoMode> => {
      const where = describeHost(this.target);
      const probe = await this.channels.use(() => this.run(command('sudo', '-n', 'true'), undefined, { timeoutMs: 30_000 }));
      if (probe.code === 0) return 'nopasswd';
      let result = probe;
      if (this.target.password !== undefined) {
        const check = `${command('sudo', '-S', '-p', this.promptMarker, '-v')} && ${command('printf', '%s\n', this.startMarker)} >&2`;
        result = await this.channels.use(() => this.run(check, undefined, { timeoutMs: 30_000 }, this.target.password));
      }
      if (result.code !== 0) {
        const reason = result.stderr.trim().split('\n').pop() || `exit ${result.code}`;
        throw hostFailure('PermissionDenied', `${where}: sudo failed for ${this.target.user} (${reason})`);
      }
      return 'password';
    })();
    this.sudoChecked.catch(() => (this.sudoChecked = undefined));
    return this.sudoChecked;
  }

  /**
   * Runs one command on a new channel. With `sudoPassword`, the command was wrapped by `exec` (or the sudo check):
   * stderr is watched for sudo's prompt marker, answered with the password once (a second prompt means it was
   * refused: stdin is closed so sudo gives up), and stdin is sent only after the start marker; both markers are
   * removed from stderr.
   */
  private run(cmd: string, stdin: string | Buffer | undefined, options: ExecOptions, sudoPassword?: string): Promise<ExecResult> {
    const where = describeHost(this.target);
    return new Promise((resolve, reject) => {
      if (this.closedFlag) return reject(hostFailure('SshConnectionLost', `${where}: connection closed`));
      this.client.exec(cmd, (err, channel: ClientChannel) => {
        if (err) return reject(hostFailure(this.closedFlag ? 'SshConnectionLost' : 'SshConnectionLost', `${where}: cannot open a channel (${err.message})`));
        const stdout = new TailBuffer();
        const stderr = new TailBuffer();
        let code: number | null = null;
        let signal: string | undefined;
        let settled = false;
        const finish = (fn: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          this.client.removeListener('close', onClientClose);
          fn();
        };
        const timer = options.timeoutMs
          ? setTimeout(() => {
              channel.close();
              finish(() => reject(hostFailure('SshTimeout', `${where}: command did not finish within ${Math.round(options.timeoutMs! / 1000)}s`)));
            }, options.timeoutMs)
          : undefined;
        const onAbort = () => {
          channel.close();
          finish(() => reject(options.signal!.reason ?? new Error('aborted')));
        };
        const onClientClose = () => finish(() => reject(hostFailure('SshConnectionLost', `${where}: connection lost while running a command`)));
        options.signal?.addEventListener('abort', onAbort);
        this.client.once('close', onClientClose);
        channel.on('data', (d: Buffer) => stdout.push(d));
        if (sudoPassword === undefined) {
          channel.stderr.on('data', (d: Buffer) => stderr.push(d));
          if (stdin !== undefined) channel.end(stdin);
          else channel.end();
        } else {
          // Until the command has started, stderr is sudo's: held here line by line so markers split across
          // packets are still recognised.
          let pending = '';
          let prompted = false;
          let started = false;
          channel.stderr.on('data', (d: Buffer) => {
            if (started) return stderr.push(d);
            pending += d.toString('latin1');
            for (;;) {
              const p = pending.indexOf(this.promptMarker);
              if (p >= 0) {
                stderr.push(Buffer.from(pending.slice(0, p), 'latin1'));
                pending = pending.slice(p + this.promptMarker.length);
                if (prompted) channel.end();
                else channel.write(`${sudoPassword}\n`);
                prompted = true;
                continue;
              }
              const s = pending.indexOf(`${this.startMarker}\n`);
              if (s >= 0) {
                stderr.push(Buffer.from(pending.slice(0, s), 'latin1'));
                const rest = pending.slice(s + this.startMarker.length + 1);
                pending = '';
                started = true;
                if (rest) stderr.push(Buffer.from(rest, 'latin1'));
                if (stdin !== undefined) channel.end(stdin);
                else channel.end();
              }
              break;
            }
          });
          channel.on('close', () => {
            if (!started && pending) stderr.push(Buffer.from(pending, 'latin1'));
          });
        }
        channel.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s;
        });
        channel.on('close', () => finish(() => resolve({ code, signal, stdout: stdout.toString(), stderr: stderr.toString() })));
      });
    });
  }

  /** One SFTP session per connection, reused; it holds one of the host's session slots for good. */
  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => {
        if (err) {
          this.sftpSession = undefined;
          return reject(hostFailure('SshConnectionLost', `${describeHost(this.target)}: cannot open SFTP (${err.message})`));
        }
        sftp.on('close', () => (this.sftpSession = undefined));
        resolve(sftp);
      });
    });
    return this.sftpSession;
  }

  upload(localPath: string, remotePath: string, options: UploadOptions = {}): Promise<UploadResult> {
    if (!fs.existsSync(localPath)) throw hostFailure('InvalidInput', `local file ${localPath} does not exist`);
    return uploadOverSftp(this, localPath, remotePath, options);
  }

  close(): void {
    this.closedFlag = true;
    this.client.end();
  }

  /** For tests of resumption: drops the TCP connection as a network fault would. */
  destroySocket(): void {
    (this.client as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
  }
}
