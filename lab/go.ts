import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACHE_DIR } from './paths';

/** The Go toolchain the lab builds with, and one build environment: module cache in the lab cache, static binaries. */
export function goBinary(): string {
  return ['/usr/local/go/bin/go', '/usr/bin/go'].find((g) => fs.existsSync(g)) ?? 'go';
}

export function goBuildEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOPATH: path.join(CACHE_DIR, 'go'), GOFLAGS: '-modcacherw', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', ...extra };
}
