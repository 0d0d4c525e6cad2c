import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec } from './codec';
import { maskSecrets } from './mask-secrets';

/**
 * Temporal's remote codec protocol for the web UI: POST /decode and /encode with `{payloads: [{metadata: {k: base64},
 * data: base64}]}`. Unlike the SDK sample, this endpoint decrypts inventory secrets, so it:
 * - listens on loopback only (the UI calls it from the operator's browser, on the same machine as the dev server);
 * - answers CORS only for the UI's own origin(s), and refuses a Host header that is not its own loopback name
 *   (a DNS-rebinding page would otherwise be same-origin with it);
 * - masks every secret in what it decodes (runtime/mask-secrets.ts), so the UI shows the plan, never a password.
 */
export interface CodecServerOptions {
  key: Buffer;
  /** Origins allowed to call it, e.g. the embedded UI's `http://127.0.0.1:8233` (its `localhost` twin is added). */
  uiOrigins: string[];
  port?: number;
  host?: string;
}

export interface CodecServer {
  url: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const MAX_BODY = 32 * 1024 * 1024;

function fromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: data ? Buffer.from(data, 'base64') : undefined,
  };
}

function toJson({ metadata, data }: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: data ? Buffer.from(data).toString('base64') : undefined,
  };
}

/** Both spellings of a loopback origin, so the UI opened as `localhost` works as well as `127.0.0.1`. */
function withTwins(origins: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const o of origins) {
    const clean = o.replace(/\/+$/, '');
    out.add(clean);
    out.add(clean.replace('//127.0.0.1', '//localhost'));
    out.add(clean.replace('//localhost', '//127.0.0.1'));
  }
  return out;
}

/**
 * Decrypts one payload and masks its secrets. A payload that is not kk-encrypted (or under another key) is handed
 * back as it came: the UI then shows what the server holds, and never an error for one odd payload.
 */
async function decodeOne(codec: AesGcmCodec, payload: Payload): Promise<Payload> {
  let plain: Payload;
  try {
    [plain] = (await codec.decode([payload])) as [Payload];
  } catch {
    return payload;
  }
  const encoding = Buffer.from(plain.metadata?.encoding ?? []).toString();
  if (encoding !== 'json/plain' || !plain.data) return encoding === 'binary/plain' ? { metadata: plain.metadata, data: Buffer.from('"(binary, not shown)"') } : plain;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(plain.data).toString('utf8'));
  } catch {
    return { metadata: plain.metadata, data: Buffer.from('"(not JSON, not shown)"') };
  }
  return { metadata: plain.metadata, data: Buffer.from(JSON.stringify(maskSecrets(parsed))) };
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const codec = new AesGcmCodec(options.key);
  const host = options.host ?? '127.0.0.1';
  const origins = withTwins(options.uiOrigins);
  let ownHosts = new Set<string>();

  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    const allowed = origin !== undefined && origins.has(origin);
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace');
    }
    const reply = (status: number, body?: string, type = 'text/plain') => {
      res.writeHead(status, body ? { 'Content-Type': type } : {});
      res.end(body);
    };
    if (!ownHosts.has(req.headers.host ?? '')) return reply(421, 'wrong Host\n');
    // Another origin gets no data even if its browser ignored CORS (a non-browser client sends no Origin).
    if (origin !== undefined && !allowed) return reply(403, 'origin not allowed\n');
    if (req.method === 'OPTIONS') return reply(204);
    const route = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || (route !== '/decode' && route !== '/encode')) return reply(404, 'POST /decode or /encode\n');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JsonPayload[] };
          if (!Array.isArray(body.payloads)) return reply(400, 'expected {"payloads": [...]}\n');
          const input = body.payloads.map(fromJson);
          const out = route === '/decode' ? await Promise.all(input.map((p) => decodeOne(codec, p))) : await codec.encode(input);
          reply(200, JSON.stringify({ payloads: out.map(toJson) }), 'application/json');
        } catch (err) {
          // Never echo the body: it may be a decrypted payload.
          reply(400, `cannot ${route.slice(1)}: ${(err as Error).name}\n`);
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ownHosts = new Set([`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]);
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
