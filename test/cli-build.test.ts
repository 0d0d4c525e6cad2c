import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copiedPaths } from './support/dockerfile';
import { workflowBuildId } from '../runtime/build-id';

/**
 * The compiled CLI: `npm run build` (the Dockerfile's build step, from exactly the files the Dockerfile copies) makes
 * dist/, bin/kk.js runs it without loading the Temporal SDK, ssh2 or webpack for `kk config`/`--help`, and never runs
 * it once a source differs from what it was built from. Everything happens in a copy: this checkout's dist/ and
 * sources are left alone. Speed is measured by scripts/cli-start.sh, not here.
 */
const ROOT = path.resolve(__dirname, '..');


const INVENTORY = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'tiny-inventory.yaml'), 'utf8');

// Preloaded into kk: writes every module it loaded to KK_PROBE_OUT when it exits.
const PROBE = `process.on('exit', () => require('node:fs').writeFileSync(process.env.KK_PROBE_OUT, JSON.stringify(Object.keys(require.cache))));\n`;
const HEAVY = /node_modules\/(@temporalio\/(worker|client|core-bridge)|ssh2|webpack|tsx)\//;

describe('compiled CLI (dist/)', () => {
  let image: string;
  let env: NodeJS.ProcessEnv;

  const inImage = (...p: string[]) => path.join(image, ...p);
  const build = () => {
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: image, encoding: 'utf8', timeout: 300_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  };
  /** Runs bin/kk.js in the copy; `loaded` is every module file it required. */
  const kk = (args: string[]) => {
    const out = inImage('probe.json');
    fs.rmSync(out, { force: true });
    const r = spawnSync(process.execPath, ['-r', inImage('probe.js'), 'bin/kk.js', ...args], { cwd: image, env: { ...env, KK_PROBE_OUT: out }, encoding: 'utf8', timeout: 120_000 });
    const loaded = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as string[]) : [];
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, loaded, fromDist: loaded.includes(inImage('dist', 'cli', 'main.js')) };
  };
  const staleReason = (): string | undefined => {
    const r = spawnSync(process.execPath, ['-p', "require('./bin/build').staleReason() ?? 'fresh'"], { cwd: image, encoding: 'utf8' });
    const out = r.stdout.trim();
    return out === 'fresh' ? undefined : out;
  };
  const config = () => kk(['config', '-i', inImage('inventory.yaml'), '--output', 'json']);

  before(() => {
    image = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-build-'));
    for (const [src, dest] of copiedPaths(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))) fs.cpSync(path.join(ROOT, src), inImage(dest), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), inImage('node_modules'));
    fs.writeFileSync(inImage('inventory.yaml'), INVENTORY);
    fs.writeFileSync(inImage('probe.js'), PROBE);
    env = { ...process.env, TEMPORAL_ADDRESS: '', KK_WORKDIR: inImage('work') };
  });
  after(() => fs.rmSync(image, { recursive: true, force: true }));

  it("builds dist/ with the Dockerfile's build step, from the files the Dockerfile copies", () => {
    assert.match(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'), /^RUN npm run build\b/m);
    assert.equal(staleReason(), 'dist/ is not built');
    const r = build();
    assert.equal(r.status, 0, r.output);
    assert.ok(fs.existsSync(inImage('dist', 'cli', 'main.js')));
    assert.ok(fs.existsSync(inImage('dist', 'workflows', 'index.js')));
    assert.equal(staleReason(), undefined);
  });

  it('kk config and kk --help run from dist/ without the Temporal SDK, ssh2, webpack or tsx', () => {
    const c = config();
    assert.equal(c.status, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).image_registry.type, 'docker-registry');
    assert.ok(c.fromDist, 'ran dist/cli/main.js');
    assert.deepEqual(c.loaded.filter((f) => HEAVY.test(f)), []);
    // The workflow build is hashed only for the commands that need it (and -V), not at every start.
    assert.ok(!c.loaded.includes(inImage('dist', 'runtime', 'build-id.js')), 'kk config hashed the workflow sources');

    const v = kk(['--version']);
    assert.equal(v.status, 0, v.stderr);
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(v.stdout, `kk ${version} (workflow build ${workflowBuildId()})\n`);
    assert.ok(v.fromDist);

    const h = kk(['--help']);
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /worker/);
    assert.ok(h.fromDist);
    assert.deepEqual(h.loaded.filter((f) => HEAVY.test(f)), []);

    // A command that loads its modules when it runs (here the dev server's, with the Temporal client) finds them in dist/.
    const s = kk(['server', 'stop']);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /no server runs/);
    assert.ok(s.fromDist);
    assert.ok(s.loaded.includes(inImage('dist', 'runtime', 'dev-server.js')));
  });

  it('the workflow bundle, its failure converter and the tools dir resolve inside dist/ and the checkout', () => {
    const script = `
      const path = require('node:path');
      const { loadOrBuildBundle } = require('./dist/worker/bundle');
      const { kkDataConverter } = require('./dist/runtime/data-converter');
      const { TOOLS_DIR } = require('./dist/runtime/temporal-cli');
      const fs = require('node:fs');
      const cacheDir = path.resolve('work/cache');
      loadOrBuildBundle({ cacheDir }).then(async (r) => {
        const manifest = fs.readdirSync(cacheDir).find((f) => f.endsWith('.json'));
        const inputs = JSON.parse(fs.readFileSync(path.join(cacheDir, manifest), 'utf8')).inputs.map((i) => i[0]);
        const again = await loadOrBuildBundle({ cacheDir });
        const build = require('./dist/runtime/build-id').workflowBuildId();
        console.log(JSON.stringify({ inputs, fromCache: again.fromCache, failureConverterPath: kkDataConverter(Buffer.alloc(32)).failureConverterPath, TOOLS_DIR, build }));
      }, (e) => { console.error(e.stack); process.exit(1); });`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: image, env, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { inputs: string[]; fromCache: boolean; failureConverterPath: string; TOOLS_DIR: string; build: string };
    // The compiled kk and the sources name the same workflow build: a run one started, the other may carry on.
    assert.equal(out.build, workflowBuildId());
    const own = out.inputs.filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`) && f.startsWith(image));
    // webpack read the compiled workflows (and the cache is keyed on them), not the TypeScript sources.
    assert.ok(own.includes(inImage('dist', 'workflows', 'index.js')), own.join('\n'));
    assert.ok(own.includes(inImage('dist', 'runtime', 'failure-converter.js')), own.join('\n'));
    assert.deepEqual(own.filter((f) => f.endsWith('.ts')), []);
    assert.equal(out.fromCache, true);
    assert.equal(out.failureConverterPath, inImage('dist', 'runtime', 'failure-converter.js'));
    assert.equal(out.TOOLS_DIR, inImage('.tools'));
  });

  it('a touched but unchanged source keeps dist/; an added or edited one makes kk run the sources, never the stale output', () => {
    const future = new Date(Date.now() + 3600_000);
    fs.utimesSync(inImage('config', 'mask.ts'), future, future);
    assert.equal(staleReason(), undefined, 'same content: still fresh');
    assert.ok(config().fromDist);

    fs.writeFileSync(inImage('config', 'added-after-build.ts'), 'export const x = 1;\n');
    assert.match(staleReason() ?? '', /config\/added-after-build\.ts/);
    fs.rmSync(inImage('config', 'added-after-build.ts'));
    assert.equal(staleReason(), undefined);

    fs.appendFileSync(inImage('cli', 'commands', 'config.ts'), "\nprocess.stderr.write('edited after the build\\n');\n");
    assert.match(staleReason() ?? '', /cli\/commands\/config\.ts/);
    const c = config();
    assert.equal(c.status, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).image_registry.type, 'docker-registry');
    assert.ok(!c.fromDist, 'the stale dist/ did not run');
    assert.ok(c.loaded.includes(inImage('cli', 'main.ts')), 'the sources ran through tsx');
    assert.match(c.stderr, /edited after the build/);

    // Modules loaded when a command runs resolve from the sources too (tsx's require hook, not Node's ESM loader).
    const s = kk(['server', 'stop']);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /no server runs/);
    assert.ok(s.loaded.includes(inImage('runtime', 'dev-server.ts')));
  });

  it('a rebuild takes the edit into dist/; a build that fails to compile leaves dist/ as it was', () => {
    const r = build();
    assert.equal(r.status, 0, r.output);
    const c = config();
    assert.ok(c.fromDist);
    assert.match(c.stderr, /edited after the build/);

    const stamp = fs.readFileSync(inImage('dist', 'build-stamp.json'), 'utf8');
    fs.appendFileSync(inImage('cli', 'commands', 'config.ts'), "\nexport const broken: number = 'not a number';\n");
    const failed = build();
    assert.notEqual(failed.status, 0);
    assert.match(failed.output, /TS2322/);
    assert.equal(fs.readFileSync(inImage('dist', 'build-stamp.json'), 'utf8'), stamp, 'dist/ untouched');
    assert.deepEqual(fs.readdirSync(image).filter((f) => f.startsWith('.dist-')), [], 'no build directory left behind');
    assert.ok(!config().fromDist, 'and still refused while the sources differ');
  });
});
