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

export function maskHost(host: HostTarget): Record<string, unknown> {
  const { password, privateKey, passphrase, ...rest } = host;
  return { ...rest, ...(password !== undefined && { password: MASK }), ...(privateKey !== undefined && { privateKey: MASK }), ...(passphrase !== undefined && { passphrase: MASK }) };
}
