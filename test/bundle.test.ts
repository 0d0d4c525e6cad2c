import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadOrBuildBundle } from '../worker/bundle';

/**
 * The workflow bundle cache: keyed on every file the bundle was built from, and read only from a private cache.
 * Runs on a copy of the sources, so editing one touches nobody's checkout.
 */
const ROOT = path.resolve(__dirname, '..');
const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-bundle-'));
for (const dir of ['workflows', 'config', 'activities', 'runtime', 'precheck', 'registry', 'pki']) fs.cpSync(path.join(ROOT, dir), path.join(tree, dir), { recursive: true });
fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(tree, 'package.json'));
fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
const workflowsPath = path.join(tree, 'workflows', 'index.ts');
const cacheDir = path.join(tree, 'work', 'cache');
const build = () => loadOrBuildBundle({ cacheDir, workflowsPath });
const cached = (ext: string) => fs.readdirSync(cacheDir).filter((f) => f.endsWith(ext)).map((f) => path.join(cacheDir, f))[0]!;

describe('workflow bundle cache', () => {
  it('is reused while no input changed, and rebuilt when a file under precheck/ (imported by the workflows) changes', async () => {
    const first = await build();
    assert.equal(first.fromCache, false);
    assert.equal(fs.statSync(cacheDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(cached('.js')).mode & 0o777, 0o600);
    const again = await build();
    assert.equal(again.fromCache, true);
    assert.equal(again.key, first.key);
    assert.equal(again.bundle.code, first.bundle.code);

    fs.appendFileSync(path.join(tree, 'precheck', 'evaluate.ts'), '\n// edited\n');
    const edited = await build();
    assert.equal(edited.fromCache, false, edited.refused);
    assert.match(edited.refused ?? '', /precheck\/evaluate\.ts changed/);
    assert.notEqual(edited.key, first.key);
    assert.equal((await build()).fromCache, true);
  });

  it('is not loaded from a file others may write, a file of another owner, a symlink, or a directory others may write', async () => {
    await build();
    fs.chmodSync(cached('.js'), 0o644);
    const lax = await build();
    assert.equal(lax.fromCache, false);
    assert.match(lax.refused ?? '', /mode 644/);

    fs.chownSync(cached('.json'), 65534, 65534);
    const foreign = await build();
    assert.equal(foreign.fromCache, false);
    assert.match(foreign.refused ?? '', /owned by uid 65534/);

    const file = cached('.js');
    fs.renameSync(file, `${file}.real`);
    fs.symlinkSync(`${file}.real`, file);
    const linked = await build();
    assert.equal(linked.fromCache, false);
    assert.match(linked.refused ?? '', /symlink/);
    assert.ok(!fs.lstatSync(file).isSymbolicLink(), 'the rebuild replaced the link with a file of its own');

    assert.equal((await build()).fromCache, true);
    fs.chmodSync(cacheDir, 0o755);
    const open = await build();
    assert.equal(open.fromCache, false);
    assert.match(open.refused ?? '', /mode 755/);
  });
});
