import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { copiedPaths } from './support/dockerfile';

/**
 * The worker image starts: kk runs from exactly the files the Dockerfile copies (`docker build` cannot pull a base
 * image here), with this checkout's node_modules standing in for its `npm ci`.
 */
const ROOT = path.resolve(__dirname, '..');


function run(cwd: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, args, { cwd, env: { ...process.env, TEMPORAL_ADDRESS: '', ...env }, encoding: 'utf8', timeout: 120_000 });
  // tsx quotes its own minified source above a resolution error: keep the end, where the missing module is named.
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => l.length < 400).slice(-15).join('\n') };
}

describe('Dockerfile', () => {
  it('copies every file kk needs: --help, kk config and the workflow bundle work from the copied files alone', () => {
    const pairs = copiedPaths(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
    assert.ok(pairs.length > 3, 'COPY lines found');
    const image = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-image-'));
    for (const [src, dest] of pairs) fs.cpSync(path.join(ROOT, src), path.join(image, dest), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(image, 'node_modules'));
    const env = { KK_WORKDIR: path.join(image, 'work') };

    const help = run(image, ['bin/kk.js', '--help'], env);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /kk worker|worker /);

    const config = run(image, ['bin/kk.js', 'config', '--output', 'json'], env);
    assert.equal(config.status, 0, config.stderr);
    assert.equal(JSON.parse(config.stdout).image_registry.type, 'harbor');

    // A worker builds the workflow bundle at start: every module the workflows import must be in the image.
    const bundle = run(image, ['-e', "require('tsx/cjs'); require('./worker/bundle.ts').workflowBundle().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); })"], env);
    assert.equal(bundle.status, 0, bundle.stderr);
  });
});
