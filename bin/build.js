#!/usr/bin/env node
// `npm run build`: compiles kk's TypeScript (tsconfig.build.json) to CommonJS in dist/, so `kk` starts without
// compiling anything. Also the check bin/kk.js makes before it runs dist/: `staleReason()` (cheap: a readdir and a
// stat per source, a hash only for a file whose stat differs from the stamp's).
//
// The build type-checks; on an error it writes nothing (dist/ stays as it was, and kk keeps refusing it while it is
// stale). It compiles into a fresh directory, writes dist/build-stamp.json there (every input's size, mtime and
// sha256, recorded before compiling: a file edited during the build leaves the stamp stale), then swaps it in, so a
// running kk never sees half a dist/ and no file of a deleted source lingers.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const STAMP = 'build-stamp.json';
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];
const SOURCE = /\.(c|m)?tsx?$/;

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const rel = (file) => path.relative(ROOT, file).split(path.sep).join('/');

/** Every TypeScript file under the given directories (root-relative, sorted): what a new or deleted source changes. */
function sourcesUnder(dirs, root = ROOT) {
  const files = [];
  for (const dir of dirs) {
    let entries;
    try {
      entries = fs.readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isFile() || !SOURCE.test(e.name)) continue;
      // Node 20.1+ names the entry's directory `parentPath` (`path` before 20.12).
      files.push(rel(path.join(e.parentPath ?? e.path, e.name)));
    }
  }
  return files.sort();
}

/**
 * Why dist/ must not run, or undefined when it was built from exactly the sources on disk: missing, a source
 * added, removed or changed since the build (tsconfig files included).
 */
function staleReason(root = ROOT) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(root, 'dist', STAMP), 'utf8'));
  } catch {
    return 'dist/ is not built';
  }
  if (!stamp || !Array.isArray(stamp.dirs) || typeof stamp.files !== 'object') return `dist/${STAMP} is not a stamp`;
  const recorded = stamp.files;
  const current = [...sourcesUnder(stamp.dirs, root), ...CONFIGS];
  for (const file of current) if (!(file in recorded)) return `${file} is newer than dist/ (added since the build)`;
  for (const file in recorded) {
    let st;
    try {
      st = fs.statSync(path.join(root, file));
    } catch {
      return `${file} was removed since the build`;
    }
    const r = recorded[file];
    if (st.size === r.size && st.mtimeMs === r.mtimeMs) continue;
    if (st.size !== r.size || sha256(path.join(root, file)) !== r.sha256) return `${file} is newer than dist/`;
  }
  return undefined;
}

/** Compiles into a fresh directory and swaps it in as dist/; returns false (dist/ untouched) on a compile error. */
function build({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const ts = require('typescript');
  const configFile = path.join(ROOT, 'tsconfig.build.json');
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => report([d]) };
  const format = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => '\n',
  };
  const report = (diagnostics) => log(ts.formatDiagnostics(diagnostics, format).trimEnd());
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, host);
  if (!parsed) return false;
  if (parsed.errors.length) {
    report(parsed.errors);
    return false;
  }
  const dirs = (parsed.raw.include ?? []).map((d) => d.replace(/\/\*\*.*$/, ''));

  // The stamp is taken before compiling: an edit made during the build makes the result stale, never "fresh".
  const files = {};
  for (const file of [...new Set([...sourcesUnder(dirs), ...parsed.fileNames.map(rel), ...CONFIGS])]) {
    const abs = path.join(ROOT, file);
    const st = fs.statSync(abs);
    files[file] = { size: st.size, mtimeMs: st.mtimeMs, sha256: sha256(abs) };
  }

  const started = Date.now();
  const tmp = path.join(ROOT, `.dist-${process.pid}-${started}`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, outDir: tmp, noEmitOnError: true } });
  let diagnostics = ts.getPreEmitDiagnostics(program);
  if (!diagnostics.length) diagnostics = program.emit().diagnostics;
  if (diagnostics.length) {
    report(diagnostics);
    fs.rmSync(tmp, { recursive: true, force: true });
    log(`build: ${diagnostics.length} error(s); dist/ left as it was`);
    return false;
  }
  fs.writeFileSync(path.join(tmp, STAMP), `${JSON.stringify({ builtAt: new Date().toISOString(), typescript: ts.version, dirs, files }, null, 1)}\n`);

  // Swap: a concurrent build may swap its own in between; each keeps trying until its complete dist/ is in place.
  const old = path.join(ROOT, `.dist-old-${process.pid}-${started}`);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.renameSync(DIST, old);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    try {
      fs.renameSync(tmp, DIST);
      break;
    } catch (err) {
      if (attempt > 5 || (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST')) throw err;
    }
  }
  fs.rmSync(old, { recursive: true, force: true });
  log(`build: dist/ from ${parsed.fileNames.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

module.exports = { staleReason, build, sourcesUnder };

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.includes('--if-stale')) {
    // ensure-deps: rebuild only when the sources differ from dist/'s stamp.
    const why = staleReason();
    if (!why) process.exit(0);
    process.stderr.write(`build: ${why}\n`);
  }
  process.exit(build() ? 0 : 1);
}
