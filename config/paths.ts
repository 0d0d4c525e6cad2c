/** Dotted variable paths with `[n]` indexes, as KubeKey's `--set` accepts them: `a.b[0].c`. */
export type PathSegment = string | number;
export type VarTree = Record<string, unknown>;

export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|(\.)/gy;
  let expectName = true;
  let match: RegExpExecArray | null;
  let last = 0;
  while ((match = re.exec(path)) !== null) {
    last = re.lastIndex;
    if (match[1] !== undefined) {
      if (!expectName) throw new Error(`"${path}" is not a valid key path`);
      segments.push(match[1].trim());
      expectName = false;
    } else if (match[2] !== undefined) {
      if (expectName && segments.length === 0) throw new Error(`"${path}" is not a valid key path`);
      segments.push(Number(match[2]));
      expectName = false;
    } else {
      if (expectName) throw new Error(`"${path}" is not a valid key path`);
      expectName = true;
    }
  }
  if (last !== path.length || expectName || segments.length === 0) throw new Error(`"${path}" is not a valid key path`);
  return segments;
}

export function formatPath(segments: readonly PathSegment[]): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

export function isPlainObject(value: unknown): value is VarTree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets a value, creating the maps and arrays on the way (arrays grow with nulls, as KubeKey's do). */
export function setPath(tree: VarTree, segments: readonly PathSegment[], value: unknown): void {
  let node: unknown = tree;
  segments.forEach((segment, i) => {
    const isLast = i === segments.length - 1;
    const next = segments[i + 1];
    const container = node as Record<string | number, unknown>;
    if (isLast) {
      container[segment] = value;
      return;
    }
    const existing = container[segment];
    const wantArray = typeof next === 'number';
    if (wantArray ? !Array.isArray(existing) : !isPlainObject(existing)) container[segment] = wantArray ? [] : {};
    if (wantArray) {
      const arr = container[segment] as unknown[];
      while (arr.length < (next as number)) arr.push(null);
    }
    node = container[segment];
  });
}

export function getPath(tree: unknown, segments: readonly PathSegment[]): unknown {
  let node = tree;
  for (const segment of segments) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** Deep merge: maps merge key by key, everything else (arrays included) is replaced by the later layer. */
export function deepMerge(base: VarTree, overlay: VarTree): VarTree {
  const out: VarTree = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/** Every leaf path of a tree (maps are walked; arrays and scalars are leaves). */
export function leafPaths(tree: VarTree, prefix: string[] = []): string[][] {
  return Object.entries(tree).flatMap(([key, value]) =>
    isPlainObject(value) && Object.keys(value).length > 0 ? leafPaths(value, [...prefix, key]) : [[...prefix, key]],
  );
}
