import { createHash, createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostFailure } from './errors';

/**
 * Host keys pinned on first use in an OpenSSH-format known_hosts file (`[host]:port type base64`, or plain `host`
 * for port 22; hashed `|1|salt|hmac` entries are read too). A changed key is refused, non-retryably.
 */
export class KnownHosts {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  static hostId(address: string, port: number): string {
    return port === 22 ? address : `[${address}]:${port}`;
  }

  static fingerprint(key: Buffer): string {
    return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
  }

  /** Accepts a known key, pins an unknown one, throws HostKeyMismatch for a different one. */
  verify(hostName: string, address: string, port: number, key: Buffer): Promise<void> {
    // Serialised so two connections to new hosts do not interleave their appends.
    const run = this.queue.then(() => this.verifyNow(hostName, address, port, key));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The key types pinned for a host (empty when it is not pinned yet). */
  pinnedTypes(address: string, port: number): string[] {
    return [...new Set(this.entriesFor(KnownHosts.hostId(address, port)).map((e) => e.type))];
  }

  /**
   * The host key algorithms to offer ssh2 for a host: only those of its pinned key types, so the negotiation picks a
   * pinned key (a server also holding a key of another type cannot switch to it); undefined when nothing is pinned.
   */
  hostKeyAlgorithms(address: string, port: number): string[] | undefined {
    const algorithms = this.pinnedTypes(address, port).flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? []);
    return algorithms.length ? algorithms : undefined;
  }

  /** A pinned host that offers no key of a pinned type: refused, with the line that accepts its new keys. */
  noPinnedTypeFailure(hostName: string, address: string, port: number, offered?: string) {
    const id = KnownHosts.hostId(address, port);
    return hostFailure(
      'HostKeyMismatch',
      `host key of ${hostName} (${id}) changed: pinned ${this.pinnedTypes(address, port).join(', ')}, ` +
        `offered ${offered ? `only ${offered}` : 'none of those types'}. ` +
        `If the host was reinstalled, accept its new keys with: ssh-keygen -R '${id}' -f ${this.file}`,
    );
  }

  private verifyNow(hostName: string, address: string, port: number, key: Buffer): void {
    const id = KnownHosts.hostId(address, port);
    const type = keyType(key);
    const pinned = this.entriesFor(id);
    // Pinning is per host, not per key type: a host pinned with one type that presents another is refused, or a
    // man in the middle holding only an ECDSA key would be accepted (and pinned) for an ed25519 host.
    if (pinned.length > 0 && !pinned.some((e) => e.type === type)) throw this.noPinnedTypeFailure(hostName, address, port, type);
    const known = pinned.filter((e) => e.type === type);
    if (known.some((e) => e.key.equals(key))) return;
    if (known.length > 0) {
      throw hostFailure(
        'HostKeyMismatch',
        `host key of ${hostName} (${id}) changed: pinned ${KnownHosts.fingerprint(known[0]!.key)}, offered ${KnownHosts.fingerprint(key)}. ` +
          `If the host was reinstalled, accept the new key with: ssh-keygen -R '${id}' -f ${this.file}`,
      );
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    fs.appendFileSync(this.file, `${id} ${type} ${key.toString('base64')}\n`, { mode: 0o600 });
  }

  private entriesFor(id: string): { type: string; key: Buffer }[] {
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const out: { type: string; key: Buffer }[] = [];
    for (const line of text.split('\n')) {
      const [hosts, type, b64] = line.trim().split(/\s+/);
      if (!hosts || !type || !b64 || hosts.startsWith('#')) continue;
      if (hosts.split(',').some((h) => matchesHost(h, id))) out.push({ type, key: Buffer.from(b64, 'base64') });
    }
    return out;
  }
}

/** ssh2's host key algorithms per key type (an RSA key signs with any of three). */
const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
};

function matchesHost(pattern: string, id: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(id).digest('base64') === hash;
  }
  return pattern === id;
}

/** The key type is the first string of the SSH wire-format key blob. */
function keyType(key: Buffer): string {
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('ascii');
}
