import type { HostTarget } from './hosts';
import { getPath, parsePath, setPath, type VarTree } from './paths';
import { SECRET_VARIABLE_PATHS } from './variables';

export const MASK = '********';

/** A copy of the variables with every secret replaced by a mask. */
export function maskVariables(vars: object): VarTree {
  const copy = structuredClone(vars) as VarTree;
  for (const p of SECRET_VARIABLE_PATHS) {
    const segments = parsePath(p);
    if (getPath(copy, segments) !== undefined) setPath(copy, segments, MASK);
  }
  return copy;
}

/** Words that make a key secret wherever it appears (`--set` may name keys this tool does not know). */
const SECRET_WORDS = /pass|secret|token|key|credential/i;

/**
 * Whether a value set at this key path may hold a secret: a secret variable, a key naming one (password, secret,
 * key, token), or a map above a secret variable (a JSON value there may carry it).
 */
export function isSecretKeyPath(key: string): boolean {
  if (SECRET_WORDS.test(key)) return true;
  const dotted = key.replace(/\[\d+\]/g, '').replace(/\s+/g, '');
  return SECRET_VARIABLE_PATHS.some((p) => p === dotted || p.startsWith(`${dotted}.`));
}

export function maskHost(host: HostTarget): Record<string, unknown> {
  const { password, privateKey, passphrase, ...rest } = host;
  return { ...rest, ...(password !== undefined && { password: MASK }), ...(privateKey !== undefined && { privateKey: MASK }), ...(passphrase !== undefined && { passphrase: MASK }) };
}
