import * as path from 'node:path';

/** The Dockerfile's COPY lines as [source, destination] pairs, destinations relative to WORKDIR. */
export function copiedPaths(dockerfile: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const line of dockerfile.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0]?.toUpperCase() !== 'COPY') continue;
    const args = words.slice(1).filter((w) => !w.startsWith('--'));
    const dest = args.pop()!;
    for (const src of args) pairs.push([src, args.length > 1 || dest.endsWith('/') ? path.join(dest, path.basename(src)) : dest]);
  }
  return pairs;
}
