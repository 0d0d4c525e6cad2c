import type { HostTarget } from '../../config/hosts';
import { SshConnection, type ConnectionSettings } from './connection';
import { LocalSession } from './local';
import type { HostSession } from './session';

/**
 * One connection per host for the whole worker, opened on first use and reopened when it dropped.
 * Activities may land on a worker whose pool is cold; that is fine, they just connect.
 */
export class SessionPool {
  private readonly sessions = new Map<string, Promise<HostSession>>();

  constructor(private readonly settings: ConnectionSettings) {}

  static key(target: HostTarget): string {
    return target.local ? `local:${target.name}` : `${target.user}@${target.address}:${target.port}`;
  }

  async get(target: HostTarget): Promise<HostSession> {
    const key = SessionPool.key(target);
    const existing = this.sessions.get(key);
    if (existing) {
      const session = await existing.catch(() => undefined);
      if (session && !(session instanceof SshConnection && session.closed) && sameCredentials(session.target, target)) return session;
      session?.close();
    }
    const opened: Promise<HostSession> = target.local ? Promise.resolve(new LocalSession(target)) : SshConnection.open(target, this.settings);
    this.sessions.set(key, opened);
    opened.catch(() => this.sessions.get(key) === opened && this.sessions.delete(key));
    return opened;
  }

  /** Drops a host's connection so the next use reconnects (e.g. after a timeout left it in doubt). */
  evict(target: HostTarget): void {
    const key = SessionPool.key(target);
    void this.sessions.get(key)?.then((s) => s.close(), () => undefined);
    this.sessions.delete(key);
  }

  closeAll(): void {
    for (const s of this.sessions.values()) void s.then((x) => x.close(), () => undefined);
    this.sessions.clear();
  }
}

function sameCredentials(a: HostTarget, b: HostTarget): boolean {
  return a.password === b.password && a.privateKey === b.privateKey && a.passphrase === b.passphrase;
}
