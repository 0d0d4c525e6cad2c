/**
 * Masks every secret in a decoded payload before the codec endpoint hands it to a browser. Secrets are found by key
 * name (HostTarget's password/privateKey/passphrase, registry credentials, htpasswd, pki.serverKey, keepalived
 * authPass, S3 accesskey/secretkey, azure accountkey, Harbor's passwords and robot secret, a GCS keyfile, tokens),
 * recursively; rendered documents (config.yml, harbor.yml) keep their shape with the secret lines masked; and every
 * secret value found anywhere in the payload is also cut out of every other string in it (a command line or a
 * message that quotes one).
 */
export const MASK = '••••••';

/** Key names (lowercased, without `_`/`-`) whose values are secrets; the whole subtree under them is masked. */
const SECRET_KEY = /password|passwd|passphrase|privatekey|secret|token|accesskey|accountkey|authpass|htpasswd|serverkey|apikey|keyfile|credential/;
/** Lines of YAML/INI-like text whose key names a secret: `  secretkey: abc`, `password = x`. */
const SECRET_LINE = /^(\s*-?\s*["']?)([A-Za-z0-9_.-]+)(["']?\s*[:=]\s*)(\S.*)$/;
const PEM_PRIVATE = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/** A copy of `value` with every secret replaced by MASK; the input is not changed. */
export function maskSecrets(value: unknown): unknown {
  const found = new Set<string>();
  collect(value, false, found);
  // Longest first, so a secret that contains another is cut whole.
  const secrets = [...found].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return mask(value, false, secrets);
}

function collect(value: unknown, secret: boolean, out: Set<string>): void {
  if (typeof value === 'string') {
    if (secret) out.add(value);
    else for (const line of value.split('\n')) {
      const m = SECRET_LINE.exec(line);
      if (m && isSecretKey(m[2]!)) out.add(unquote(m[4]!));
    }
  } else if (typeof value === 'number' && secret) out.add(String(value));
  else if (Array.isArray(value)) for (const v of value) collect(v, secret, out);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, secret || isSecretKey(k), out);
}

function mask(value: unknown, secret: boolean, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return secret ? MASK : maskText(value, secrets);
  if (typeof value === 'number' || typeof value === 'boolean') return secret ? MASK : value;
  if (Array.isArray(value)) return value.map((v) => mask(v, secret, secrets));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, secret || isSecretKey(k), secrets)]));
  return value;
}

function maskText(text: string, secrets: readonly string[]): string {
  let out = text.replace(PEM_PRIVATE, (_m, kind: string) => `-----BEGIN ${kind}PRIVATE KEY-----\n${MASK}\n-----END ${kind}PRIVATE KEY-----`);
  if (out.includes('\n') || SECRET_LINE.test(out)) {
    out = out
      .split('\n')
      .map((line) => {
        const m = SECRET_LINE.exec(line);
        return m && isSecretKey(m[2]!) ? `${m[1]}${m[2]}${m[3]}${MASK}` : line;
      })
      .join('\n');
  }
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(MASK);
  return out;
}

function unquote(v: string): string {
  const t = v.trim();
  return /^(["']).*\1$/.test(t) ? t.slice(1, -1) : t;
}
