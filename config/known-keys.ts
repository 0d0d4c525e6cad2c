import type { z } from 'zod';
import { isPlainObject, type VarTree } from './paths';

/** The dotted key paths a schema knows, found by walking it; `*` stands for any key of a record. */
export function knownKeyPaths(schema: z.ZodType): string[] {
  const out: string[] = [];
  walk(schema, [], out);
  return out;
}

function walk(schema: z.ZodType, prefix: string[], out: string[]): void {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>;
      if (prefix.length) out.push(prefix.join('.'));
      for (const [key, child] of Object.entries(shape)) walk(child, [...prefix, key], out);
      return;
    }
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
      return walk(def.innerType as z.ZodType, prefix, out);
    case 'pipe': {
      // z.preprocess is a pipe from a transform into the real schema.
      const inner = (def.in as { _zod: { def: { type: string } } })._zod.def.type === 'transform' ? def.out : def.in;
      return walk(inner as z.ZodType, prefix, out);
    }
    case 'record':
      out.push([...prefix, '*'].join('.'));
      return;
    default:
      out.push(prefix.join('.'));
  }
}

/** Keys present in a tree that the known paths do not cover, each with the nearest known key. */
export function unknownKeys(tree: VarTree, known: readonly string[]): { path: string; nearest?: string }[] {
  const knownSet = new Set(known);
  const found: { path: string; nearest?: string }[] = [];
  const visit = (node: VarTree, prefix: string[]) => {
    for (const [key, value] of Object.entries(node)) {
      const path = [...prefix, key];
      const dotted = path.join('.');
      if (coveredByWildcard(path, knownSet)) continue;
      if (!knownSet.has(dotted)) {
        found.push({ path: dotted, nearest: nearest(dotted, known) });
        continue;
      }
      if (isPlainObject(value)) visit(value, path);
    }
  };
  visit(tree, []);
  return found;
}

function coveredByWildcard(path: string[], known: Set<string>): boolean {
  for (let i = 0; i < path.length; i++) if (known.has([...path.slice(0, i), '*'].join('.'))) return true;
  return false;
}

function nearest(path: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const leaf = path.split('.').pop()!;
  for (const candidate of known) {
    if (candidate.includes('*')) continue;
    const score = Math.min(editDistance(path, candidate), editDistance(leaf, candidate.split('.').pop()!) + 1);
    if (score < bestScore) [best, bestScore] = [candidate, score];
  }
  return bestScore <= Math.max(3, Math.floor(leaf.length / 2)) ? best : undefined;
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
