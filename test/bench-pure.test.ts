import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { padTarball } from '../bench/artifacts';
import { covered } from '../bench/history';
import { figure, table } from '../bench/report';

/** The bench's own pieces that need no lab: padding an artifact, the idle-time arithmetic, targets. */
describe('bench (pure)', () => {
  it('pads a tarball with a random file inside it, the original members unchanged and in place', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-bench-pad-'));
    try {
      fs.mkdirSync(path.join(dir, 'src', 'harbor'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'src', 'harbor', 'install.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
      fs.writeFileSync(path.join(dir, 'src', 'harbor', 'harbor.yml.tmpl'), 'hostname: x\n');
      execFileSync('tar', ['-C', path.join(dir, 'src'), '-czf', path.join(dir, 'in.tgz'), 'harbor']);
      await padTarball(path.join(dir, 'in.tgz'), path.join(dir, 'out.tgz'), 'harbor/bench-padding.bin', 2_000_000);
      // Random bytes do not compress: the tarball really grows by the padding.
      assert.ok(fs.statSync(path.join(dir, 'out.tgz')).size > 2_000_000);
      const listing = execFileSync('tar', ['-tzvf', path.join(dir, 'out.tgz')], { encoding: 'utf8' });
      assert.match(listing, /2000000 .*harbor\/bench-padding\.bin/);
      assert.match(listing, /^-rwxr-xr-x .*harbor\/install\.sh$/m);
      assert.equal(execFileSync('tar', ['-xzOf', path.join(dir, 'out.tgz'), 'harbor/harbor.yml.tmpl'], { encoding: 'utf8' }), 'hostname: x\n');
      assert.equal(fs.existsSync(path.join(dir, 'out.tgz.d')), false, 'its work dir is removed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts overlapping intervals once (time covered by steps running in parallel)', () => {
    assert.equal(covered([]), 0);
    assert.equal(covered([[0, 10], [5, 15], [20, 25]]), 20);
    assert.equal(covered([[20, 25], [0, 10], [2, 3]]), 15);
  });

  it('holds each figure to its target and prints which were met', () => {
    const f = [figure('a', 'ratio low', 1.2, 'ratio', { op: '<=', bound: 1.3 }), figure('b', 'throughput', 0.5, 'ratio', { op: '>=', bound: 0.8 }), figure('c', 'bytes', 0, 'bytes', { op: '<=', bound: 0 })];
    assert.deepEqual(f.map((x) => x.met), [true, false, true]);
    const t = table(f);
    assert.match(t, /\| ratio low \| 1\.20 \| ≤ 1\.30 \| met \|/);
    assert.match(t, /\| throughput \| 0\.50 \| ≥ 0\.80 \| \*\*missed\*\* \|/);
  });
});
