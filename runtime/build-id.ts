import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The identity of the workflow code this kk runs: a hash of the sources the workflow bundle is made of (by path
 * relative to the package and content) and of the Temporal workflow SDK's version. The same in the compiled CLI and
 * when running the TypeScript sources, and on every machine with the same kk.
 *
 * A run records the build that started it. Only that build may replay its history: another one would be a
 * non-determinism failure retried without end, so kk refuses to carry such a run on and names the build that can.
 */
const WORKFLOW_SOURCE_DIRS = ['workflows', 'precheck', 'registry', 'config'];
const WORKFLOW_SOURCE_FILES = ['runtime/failure-converter.ts'];

let cached: string | undefined;

export function workflowBuildId(): string {
  if (cached) return cached;
  const root = packageRoot();
  const { sourcesUnder } = require(path.join(root, 'bin', 'build.js')) as { sourcesUnder(dirs: string[], root: string): string[] };
  const hash = createHash('sha256');
  for (const file of [...sourcesUnder(WORKFLOW_SOURCE_DIRS, root), ...WORKFLOW_SOURCE_FILES].sort()) {
    hash.update(`${file}\0`).update(fs.readFileSync(path.join(root, file))).update('\0');
  }
  hash.update(`@temporalio/workflow@${(require('@temporalio/workflow/package.json') as { version: string }).version}`);
  cached = hash.digest('hex').slice(0, 12);
  return cached;
}

/** kk's version (package.json) and workflow build, as `kk --version` prints them. */
export function versionLine(): string {
  const { version } = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return `kk ${version} (workflow build ${workflowBuildId()})`;
}

/** kk's package directory, from here or from its compiled copy under dist/. */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'kk-registry') return dir;
    if (path.dirname(dir) === dir) throw new Error(`kk's package.json not found above ${__dirname}`);
  }
}

