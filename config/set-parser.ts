import { ConfigError } from './errors';
import { isSecretKeyPath, MASK } from './mask';
import { parsePath, setPath, type VarTree } from './paths';

/**
 * Parses `--set` values the way KubeKey documents them, without its pitfalls:
 * - pieces are split on commas that are neither escaped (`\,`) nor inside a JSON value (`[1,2]`, `{"a":1,"b":2}`),
 *   and only then unescaped (KubeKey splits first, so its documented `\,` never worked);
 * - scalars stay strings here; the schema types them for the keys it knows, so `password=123456` stays a string.
 * Later `--set` flags and later pieces win.
 */
export function parseSetFlags(flags: readonly string[]): VarTree {
  const tree: VarTree = {};
  const problems: string[] = [];
  for (const flag of flags) {
    for (const piece of splitPieces(flag)) {
      try {
        const { key, value } = parsePiece(piece);
        setPath(tree, parsePath(key), value);
      } catch (err) {
        problems.push(`--set ${JSON.stringify(shown(piece))}: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return tree;
}

export function splitPieces(flag: string): string[] {
  const pieces: string[] = [];
  let current = '';
  let depth = 0;
  let quote: string | null = null;
  let inValue = false;
  for (let i = 0; i < flag.length; i++) {
    const ch = flag[i]!;
    if (ch === '\\' && i + 1 < flag.length) {
      current += ch + flag[i + 1];
      i++;
      continue;
    }
    if (quote) {
      if (ch === quote) quote = null;
    } else if (inValue && depth > 0 && (ch === '"' || ch === "'")) {
      quote = ch;
    } else if (inValue && (ch === '[' || ch === '{') && (depth > 0 || isValueStart(current))) {
      depth++;
    } else if (inValue && depth > 0 && (ch === ']' || ch === '}')) {
      depth--;
    } else if (ch === '=' && !inValue) {
      inValue = true;
    } else if (ch === ',' && depth === 0) {
      pieces.push(current);
      current = '';
      inValue = false;
      continue;
    }
    current += ch;
  }
  pieces.push(current);
  return pieces.filter((p) => p.trim() !== '');
}

/** A piece as an error may show it: the value masked when the key may hold a secret. */
function shown(piece: string): string {
  const eq = piece.indexOf('=');
  if (eq < 0) return isSecretKeyPath(piece) ? MASK : piece;
  const key = piece.slice(0, eq);
  return isSecretKeyPath(key) ? `${key}=${MASK}` : piece;
}

/** A bracket opens a JSON value only when it is the first character after `=`. */
function isValueStart(current: string): boolean {
  return current.endsWith('=');
}

function parsePiece(piece: string): { key: string; value: unknown } {
  const eq = piece.indexOf('=');
  if (eq <= 0) throw new Error('expected key=value');
  const key = piece.slice(0, eq).trim();
  const raw = piece.slice(eq + 1);
  if (raw.startsWith('{') || raw.startsWith('[')) {
    try {
      return { key, value: JSON.parse(raw) };
    } catch (err) {
      // JSON.parse quotes the text it choked on: not for a value that may be a secret.
      throw new Error(isSecretKeyPath(key) ? 'value is not valid JSON' : `value is not valid JSON (${(err as Error).message})`);
    }
  }
  return { key, value: unescape(raw) };
}

const ESCAPES: Record<string, string> = { '\\': '\\', ',': ',', '"': '"', "'": "'", n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };

function unescape(raw: string): string {
  return raw.replace(/\\(.)/g, (whole, ch: string) => ESCAPES[ch] ?? whole);
}
