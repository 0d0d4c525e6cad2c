/** Shell quoting: every command sent to a host is built from quoted words, never glued from raw strings. */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word for POSIX sh: left bare when it is plainly safe, else single-quoted. */
export function shellQuote(word: string | number): string {
  const s = String(word);
  if (s !== '' && SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A command line from words: `command('mkdir', '-p', dir)`. */
export function command(...words: (string | number)[]): string {
  return words.map(shellQuote).join(' ');
}

/** Marks trusted shell syntax (pipes, redirections) written in this code base, never user data. */
export class RawShell {
  constructor(readonly text: string) {}
}
export const raw = (text: string) => new RawShell(text);

/**
 * Tagged template for scripts: interpolated values are quoted unless wrapped in `raw()`.
 * `sh\`sha256sum -- ${file} | cut -d' ' -f1\`` quotes `file`.
 */
export function sh(strings: TemplateStringsArray, ...values: (string | number | RawShell)[]): string {
  return strings.reduce((out, part, i) => {
    if (i >= values.length) return out + part;
    const v = values[i]!;
    return out + part + (v instanceof RawShell ? v.text : shellQuote(v));
  }, '');
}
