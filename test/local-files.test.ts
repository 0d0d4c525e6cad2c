import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { checkArtifactFiles, requireLocalFile } from '../activities/precheck/artifacts';
import type { ArtifactNeed } from '../precheck/types';

/** Steps that read local files say which worker lacked which file, and are not retried for it. */
describe('local files on a worker', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-local-'));

  it('a missing file is a non-retryable LocalFileMissing naming the worker and the path, and how to fix it', () => {
    const file = path.join(dir, 'docker-24.0.9.tgz');
    assert.throws(
      () => requireLocalFile(file, 'node1: upload'),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'LocalFileMissing' &&
        err.nonRetryable &&
        err.message.includes(file) &&
        err.message.includes(`worker ${process.pid}@${os.hostname()}`) &&
        /share binary_dir/.test(err.message),
    );
    fs.writeFileSync(file, 'x');
    requireLocalFile(file, 'node1: upload');
    assert.throws(() => requireLocalFile(dir, 'a directory is not a file'), /does not exist on worker/);
  });

  it("precheck's artifact statuses name the worker that looked", async () => {
    const need = { name: 'docker', arch: 'amd64', localPath: path.join(dir, 'absent.tgz') } as unknown as ArtifactNeed;
    const [status] = await checkArtifactFiles([need]);
    assert.equal(status!.present, false);
    assert.equal((status as { worker?: string }).worker, `${process.pid}@${os.hostname()}`);
  });
});
