import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import type { PushTarget } from '../../registry/images/types';
import { hostFailure } from '../ssh/errors';

/**
 * The registry's HTTP API (distribution v2, as the docker registry and Harbor serve it) from the machine running kk:
 * TLS verified with kk's CA only, Basic or Bearer-token auth as the registry's 401 asks, the credentials only in
 * headers. Failures are classified: what time may fix (connection refused or reset, 5xx) is NotReady; a refused
 * credential, an untrusted certificate or an answer that says the input is wrong is not retried.
 */

export interface RegistryResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer;
  /** Token scopes this request needs (Bearer auth): `repository:<repo>:pull,push`. */
  scopes?: string[];
  ok: number[];
  timeoutMs?: number;
}

const RETRY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

/** `Bearer realm="…",service="…"` → its parameters. */
export function parseChallenge(header: string | undefined): { scheme: 'basic' | 'bearer'; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme, params };
}

export class RegistryClient {
  private readonly agent: http.Agent;
  private challenge: ReturnType<typeof parseChallenge>;
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly target: PushTarget,
    private readonly signal?: AbortSignal,
  ) {
    this.agent =
      target.scheme === 'https'
        ? new https.Agent({ keepAlive: true, maxSockets: 4, ca: target.caCert, ...(isIP(target.servername) ? {} : { servername: target.servername }) })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  close(): void {
    this.agent.destroy();
  }

  /** `https://<address>` as the registry is named. */
  get base(): string {
    return `${this.target.scheme}://${this.target.address}`;
  }

  private raw(method: string, pathAndQuery: string, headers: Record<string, string>, body: Buffer | undefined, timeoutMs: number): Promise<RegistryResponse> {
    const mod = this.target.scheme === 'https' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          host: this.target.connectHost,
          port: this.target.port,
          method,
          path: pathAndQuery,
          agent: this.agent,
          headers: { Host: this.target.address, 'Content-Length': String(body?.length ?? 0), ...headers },
          signal: this.signal,
          timeout: timeoutMs,
          ...(this.target.scheme === 'https' && !isIP(this.target.servername) ? { servername: this.target.servername } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(this.classify(err as NodeJS.ErrnoException, method, pathAndQuery)));
      req.end(body);
    });
  }

  private classify(err: NodeJS.ErrnoException, method: string, p: string): Error {
    const where = `${method} ${this.base}${p.split('?')[0]}`;
    if (err.name === 'AbortError') return err;
    if (err.code && RETRY_CODES.has(err.code)) return hostFailure('NotReady', `${where}: ${err.code} (${this.target.connectHost}:${this.target.port})`);
    if (/certificate|self.signed|altnames|CERT_|UNABLE_TO_VERIFY/i.test(`${err.code} ${err.message}`)) {
      return hostFailure('CommandFailed', `${where}: TLS: ${err.message}: the registry's certificate must be signed by kk's CA (<work_dir>/pki/root.crt) and name ${this.target.servername}`);
    }
    return hostFailure('NotReady', `${where}: ${err.message}`);
  }

  private async token(scopes: string[]): Promise<string> {
    const key = scopes.join(' ');
    const kept = this.tokens.get(key);
    if (kept) return kept;
    const { realm, service } = this.challenge!.params;
    if (!realm) throw hostFailure('CommandFailed', `${this.base}: a Bearer challenge without a realm`);
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.target.credentials) headers.Authorization = `Basic ${Buffer.from(`${this.target.credentials.username}:${this.target.credentials.password}`).toString('base64')}`;
    // The token service is the registry's own (Harbor: /service/token): reached through the same connection.
    const res = await this.raw('GET', `${url.pathname}${url.search}`, headers, undefined, 60_000);
    if (res.status === 401 || res.status === 403) throw hostFailure('PermissionDenied', `${this.base}: the registry refused the credentials of ${this.target.credentials?.username ?? 'an anonymous client'} (image_registry.auth)`);
    if (res.status !== 200) throw hostFailure('NotReady', `${this.base}: token service answered ${res.status}`);
    const body = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw hostFailure('CommandFailed', `${this.base}: the token service gave no token`);
    this.tokens.set(key, token);
    return token;
  }

  private async authorization(scopes: string[]): Promise<Record<string, string>> {
    if (!this.challenge) return {};
    if (this.challenge.scheme === 'basic') {
      if (!this.target.credentials) throw hostFailure('PermissionDenied', `${this.base} requires a login: set image_registry.auth.username and password`);
      return { Authorization: `Basic ${Buffer.from(`${this.target.credentials.username}:${this.target.credentials.password}`).toString('base64')}` };
    }
    return { Authorization: `Bearer ${await this.token(scopes)}` };
  }

  /** One request; a 401 sets the auth scheme the registry asks for and the request goes once more. */
  async request(method: string, pathAndQuery: string, options: RequestOptions): Promise<RegistryResponse> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    for (let round = 0; ; round++) {
      const res = await this.raw(method, pathAndQuery, { ...options.headers, ...(await this.authorization(options.scopes ?? [])) }, options.body, timeoutMs);
      if (res.status === 401 && round === 0) {
        const challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
        if (challenge && (challenge.scheme !== this.challenge?.scheme || challenge.scheme === 'bearer')) {
          this.challenge = challenge;
          this.tokens.clear();
          continue;
        }
      }
      if (options.ok.includes(res.status)) return res;
      throw this.failure(method, pathAndQuery, res);
    }
  }

  /** Which error an unexpected answer is: registries say why in `{"errors":[{"code","message"}]}`. */
  private failure(method: string, p: string, res: RegistryResponse): Error {
    let why = '';
    try {
      const e = (JSON.parse(res.body.toString('utf8')) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
      why = [e?.code, e?.message].filter(Boolean).join(' ');
    } catch {
      why = res.body.toString('utf8').slice(0, 200).trim();
    }
    const message = `${method} ${this.base}${p.split('?')[0]}: ${res.status}${why ? ` ${why}` : ''}`;
    if (res.status === 401 || res.status === 403) return hostFailure('PermissionDenied', `${message} (credentials: image_registry.auth)`);
    if (res.status >= 500 || res.status === 429 || res.status === 408) return hostFailure('NotReady', message);
    return hostFailure('CommandFailed', message);
  }

  /** The registry's API root: learns the auth scheme once (200 for an anonymous registry). */
  async ping(): Promise<void> {
    await this.request('GET', '/v2/', { ok: [200] });
  }

  /** A path (and query) of a Location header, which may be absolute and name another host than the one connected. */
  static pathOf(location: string | string[] | undefined, what: string): string {
    if (typeof location !== 'string' || !location) throw hostFailure('CommandFailed', `${what}: the registry gave no Location`);
    const u = new URL(location, 'http://registry.invalid');
    return `${u.pathname}${u.search}`;
  }
}
