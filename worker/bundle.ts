import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

const ROOT = path.resolve(__dirname, '..');
/** Workflow code and the pure modules it may import. */
const SOURCE_DIRS = ['workflows', 'config', 'activities', 'runtime'];

function sourceHash(): string {
  const hash = createHash('sha256');
  hash.update(require('@temporalio/worker/package.json').version as string);
  for (const dir of SOURCE_DIRS) {
    const walk = (d: string) => {
      for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = path.join(d, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (entry.name.endsWith('.ts')) hash.update(p).update(fs.readFileSync(p));
      }
    };
    walk(path.join(ROOT, dir));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The workflow bundle, built once per version of the sources and cached, so each `kk` command does not spend
 * seconds in webpack. Building it also proves the workflow code imports nothing non-deterministic.
 */
export async function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  const file = path.join(os.tmpdir(), `kk-workflow-bundle-${sourceHash()}.js`);
  if (fs.existsSync(file)) return { code: fs.readFileSync(file, 'utf8'), sourceMap: '' };
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    failureConverterPath: require.resolve('../runtime/failure-converter'),
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => process.stderr.write(`${m}\n`) },
  });
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, bundle.code);
  fs.renameSync(tmp, file);
  return bundle;
}
