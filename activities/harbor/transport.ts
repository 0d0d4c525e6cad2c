import { describeHost } from '../../config/hosts';
import type { HarborRequest, HarborResponse, HarborTransport } from '../../registry/harbor/types';
import { hostFailure } from '../ssh/errors';
import type { HostSession } from '../ssh/session';
import { tail } from '../ssh/session';

/**
 * Harbor's API reached from a node: `curl -K -` run on the host through its session, TLS verified with kk's CA
 * (never -k). Everything but the fixed words `curl -K -` travels in curl's config on stdin — URL, credential and
 * body — so no secret appears on a command line or in a process listing.
 */
export interface CurlTransportOptions {
  session: HostSession;
  /** `https://<host>:<port>`; default `https://127.0.0.1:<port>` (this node's own Harbor). */
  baseUrl?: string;
  port?: number;
  /** The CA certificate on the host that signed Harbor's certificate. */
  caPath: string;
  username: string;
  password: string;
  /** Run curl as root, for a CA file only root may read. */
  sudo?: boolean;
  /** Per request (default 30 s; Harbor takes ~1.5 s over a failed login, and pings peers on registry writes). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const STATUS_MARK = '\n@@kk-curl-status ';

/** A value for curl's config file: double-quoted, with backslash and quote escaped (curl reads \\ and \"). */
export function curlConfigValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

export function requestUrl(base: string, req: HarborRequest): string {
  const url = `${base.replace(/\/+$/, '')}${req.path}`;
  const query = Object.entries(req.query ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined);
  return query.length === 0 ? url : `${url}?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}

/** curl's config for one request; exported for tests that check what reaches stdin. */
export function curlConfig(options: Pick<CurlTransportOptions, 'caPath' | 'username' | 'password' | 'timeoutMs'>, url: string, req: HarborRequest): string {
  const lines = [
    `url = ${curlConfigValue(url)}`,
    `request = ${curlConfigValue(req.method)}`,
    `cacert = ${curlConfigValue(options.caPath)}`,
    `user = ${curlConfigValue(`${options.username}:${options.password}`)}`,
    'silent',
    'show-error',
    `max-time = ${Math.max(1, Math.round((options.timeoutMs ?? 30_000) / 1000))}`,
    'dump-header = "-"',
    'output = "-"',
    `write-out = ${curlConfigValue(`${STATUS_MARK}%{http_code}`)}`,
    `header = ${curlConfigValue(`Accept: ${req.accept === 'text' ? 'text/plain' : 'application/json'}`)}`,
    // No 100-continue round trip (and no second header block) for larger bodies.
    'header = "Expect:"',
  ];
  if (req.method === 'HEAD') lines.push('head');
  if (req.body !== undefined) lines.push('header = "Content-Type: application/json"', `data-raw = ${curlConfigValue(JSON.stringify(req.body))}`);
  return `${lines.join('\n')}\n`;
}

/** Splits curl's stdout (header blocks, body, status mark) into a response. */
export function parseCurlOutput(stdout: string): HarborResponse {
  const mark = stdout.lastIndexOf(STATUS_MARK);
  if (mark < 0) throw new Error('curl output has no status mark');
  const status = Number(stdout.slice(mark + STATUS_MARK.length).trim());
  let rest = stdout.slice(0, mark);
  let headers: Record<string, string> = {};
  // Interim answers (1xx) come first with their own header block; the last block is the answer's.
  while (/^HTTP\/[\d.]+ \d{3}/.test(rest)) {
    const end = rest.search(/\r?\n\r?\n/);
    const block = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? '' : rest.slice(end).replace(/^\r?\n\r?\n/, '');
    headers = {};
    for (const line of block.split(/\r?\n/).slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
  }
  return { status, headers, body: rest };
}

// curl exit codes that time may fix (refused, unresolved, timed out, reset) versus those it will not (TLS trust).
const RETRYABLE_CURL = new Set([6, 7, 28, 52, 55, 56]);

export function curlTransport(options: CurlTransportOptions): HarborTransport {
  const base = options.baseUrl ?? `https://127.0.0.1:${options.port ?? 443}`;
  const where = describeHost(options.session.target);
  return async (req) => {
    const url = requestUrl(base, req);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const r = await options.session.exec('curl -K -', { sudo: options.sudo, stdin: curlConfig(options, url, req), timeoutMs: timeoutMs + 15_000, signal: options.signal });
    if (r.code !== 0) {
      const why = tail(r.stderr.trim() || `curl exit ${r.code}`, 400);
      // The URL is safe to show; the credential never is (it is only in the config on stdin).
      throw hostFailure(r.code !== null && RETRYABLE_CURL.has(r.code) ? 'NotReady' : 'CommandFailed', `${where}: ${req.method} ${url}: ${why}`);
    }
    return parseCurlOutput(r.stdout);
  };
}
