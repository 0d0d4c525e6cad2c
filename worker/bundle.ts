import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

const WORKER_VERSION = require('@temporalio/worker/package.json').version as string;

export interface BundleOptions {
  /** Where the bundle is cached (a work dir's `cache/`); without it every call builds. */
  cacheDir?: string;
  /** The workflows module; tests point it at a copy of the sources. */
  workflowsPath?: string;
}

export interface BundleResult {
  bundle: WorkflowBundleWithSourceMap;
  /** sha256 over every file webpack read to build the bundle (path and content) and the SDK version. */
  key: string;
  fromCache: boolean;
  /** Why an existing cache was not used, when it was not. */
  refused?: string;
}

/** What is stored next to the cached bundle: every input file with its hash, and the bundle's own hash. */
interface Manifest {
  key: string;
  workerVersion: string;
  bundleSha256: string;
  inputs: [file: string, sha256: string][];
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function keyOf(inputs: Manifest['inputs']): string {
  const hash = createHash('sha256').update(WORKER_VERSION);
  for (const [file, digest] of inputs) hash.update(`\0${file}\0${digest}`);
  return hash.digest('hex');
}

const getuid = () => process.getuid?.() ?? -1;

/** Whether a cache dir can be trusted: a real directory of ours that nobody else may write into (0700). */
function trustedDir(dir: string): string | undefined {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) return `${dir} is not a directory (a symlink?)`;
  if (st.uid !== getuid()) return `${dir} is owned by uid ${st.uid}, not ${getuid()}`;
  if ((st.mode & 0o077) !== 0) return `${dir} has mode ${(st.mode & 0o777).toString(8)}, not 700`;
  return undefined;
}

/** Reads a cache file only when it is a regular file (never through a symlink) of ours, readable by us alone. */
function readTrusted(file: string): Buffer | string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ELOOP' ? `${file} is a symlink` : `${file}: ${code}`;
  }
  try {
    // fstat of the open descriptor: what is checked is what is read.
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return `${file} is not a regular file`;
    if (st.uid !== getuid()) return `${file} is owned by uid ${st.uid}, not ${getuid()}`;
    if ((st.mode & 0o077) !== 0) return `${file} has mode ${(st.mode & 0o777).toString(8)}, not 600`;
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function hashFile(file: string): string | undefined {
  try {
    return sha256(fs.readFileSync(file));
  } catch {
    return undefined;
  }
}

function cachePaths(cacheDir: string, workflowsPath: string) {
  // One entry per checkout, so two kk versions sharing a work dir do not evict each other on every command.
  const base = path.join(cacheDir, `workflow-bundle-${sha256(workflowsPath).slice(0, 12)}`);
  return { bundle: `${base}.js`, manifest: `${base}.json` };
}

/** The cached bundle when the cache is trusted and every file it was built from is unchanged. */
function loadCached(cacheDir: string, workflowsPath: string): { bundle: WorkflowBundleWithSourceMap; key: string } | { refused?: string } {
  const distrust = trustedDir(cacheDir);
  if (distrust) return { refused: distrust };
  const files = cachePaths(cacheDir, workflowsPath);
  if (!fs.existsSync(files.manifest) && !fs.existsSync(files.bundle)) return {};
  const manifestRaw = readTrusted(files.manifest);
  if (typeof manifestRaw === 'string') return { refused: manifestRaw };
  const code = readTrusted(files.bundle);
  if (typeof code === 'string') return { refused: code };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestRaw.toString('utf8')) as Manifest;
  } catch {
    return { refused: `${files.manifest} is not JSON` };
  }
  if (manifest.workerVersion !== WORKER_VERSION || sha256(code) !== manifest.bundleSha256) return { refused: 'stale: the bundle does not match its manifest' };
  for (const [file, digest] of manifest.inputs) if (hashFile(file) !== digest) return { refused: `stale: ${file} changed` };
  if (keyOf(manifest.inputs) !== manifest.key) return { refused: 'stale: manifest key' };
  return { bundle: { code: code.toString('utf8'), sourceMap: '' }, key: manifest.key };
}

/** Writes a cache file 0600 under a fresh name, then renames it into place (readers never see half a file). */
function writePrivate(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.${Date.now()}`;
  fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/**
 * The workflow bundle, built once per version of its sources and cached in the work dir, so each `kk` command does
 * not spend seconds in webpack. Building it also proves the workflow code imports nothing non-deterministic.
 *
 * The cache is keyed on every file webpack read (workflows, precheck/, registry/, config/, the SDK …), recorded at
 * build time and re-hashed before a cached bundle is used, so no edited import is ever left out. It is read only from
 * a 0700 directory of ours, as a regular 0600 file of ours: another local user must not be able to plant workflow code.
 */
export async function loadOrBuildBundle(options: BundleOptions = {}): Promise<BundleResult> {
  const workflowsPath = options.workflowsPath ?? require.resolve('../workflows');
  let refused: string | undefined;
  let cacheUsable = false;
  if (options.cacheDir) {
    fs.mkdirSync(options.cacheDir, { recursive: true, mode: 0o700 });
    const cached = loadCached(options.cacheDir, workflowsPath);
    if ('bundle' in cached) return { bundle: cached.bundle, key: cached.key, fromCache: true };
    refused = cached.refused;
    cacheUsable = !trustedDir(options.cacheDir);
  }

  const started = Date.now();
  // This file too: the bundle options (interceptor modules, converters) are part of what the bundle is.
  const read = new Set<string>([__filename]);
  const bundle = await bundleWorkflowCode({
    workflowsPath,
    failureConverterPath: require.resolve('../runtime/failure-converter'),
    // Phase, current details and activity summaries for every kk workflow (what the UI shows without a codec).
    workflowInterceptorModules: [require.resolve('../workflows/interceptors')],
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => process.stderr.write(`${m}\n`) },
    webpackConfigHook: (config) => ({
      ...config,
      plugins: [
        ...(config.plugins ?? []),
        {
          // Every file webpack read for this bundle: the sources it resolved and each package.json on the way.
          apply(compiler) {
            compiler.hooks.done.tap('kk-bundle-inputs', (stats) => {
              for (const f of stats.compilation.fileDependencies) read.add(f);
            });
          },
        },
      ],
    }),
  });

  // Files on disk only: the generated entrypoint lives in webpack's memory and follows from workflowsPath.
  const inputs: Manifest['inputs'] = [];
  let editedDuringBuild = false;
  for (const file of [...read].sort()) {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    if (st.mtimeMs >= started) editedDuringBuild = true;
    inputs.push([file, hashFile(file)!]);
  }
  const key = keyOf(inputs);
  if (options.cacheDir && cacheUsable && !editedDuringBuild && inputs.length) {
    const files = cachePaths(options.cacheDir, workflowsPath);
    writePrivate(files.bundle, bundle.code);
    const manifest: Manifest = { key, workerVersion: WORKER_VERSION, bundleSha256: sha256(bundle.code), inputs };
    writePrivate(files.manifest, JSON.stringify(manifest));
  }
  return { bundle, key, fromCache: false, refused };
}

export async function workflowBundle(options: BundleOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  return (await loadOrBuildBundle(options)).bundle;
}
