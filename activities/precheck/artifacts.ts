import * as fs from 'node:fs';
import * as os from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactNeed, ArtifactStatus } from '../../precheck/types';
import { sha256File } from '../ssh/file-hash';

/**
 * This process as Temporal shows it: both kk's workers (`kk worker`, the CLI's in-process one) have identities that
 * end in `<pid>@<hostname>`, so a message naming it points at the machine whose disk was read.
 */
export function workerName(): string {
  return `${process.pid}@${os.hostname()}`;
}

/**
 * A local file (an artifact in binary_dir) that this worker does not have. Not retried: with a cluster, steps that
 * read local files may run on any `kk worker`, so binary_dir must be the same directory at the same path on all.
 */
export function localFileMissing(file: string, what: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'LocalFileMissing',
    nonRetryable: true,
    message:
      `${what}: ${file} does not exist on worker ${workerName()}; every kk worker reads artifacts at the same path, ` +
      'so share binary_dir with all workers (the same mount at the same path), or run kk without TEMPORAL_ADDRESS',
  });
}

/** Throws `LocalFileMissing` unless `file` is a regular file on this worker. */
export function requireLocalFile(file: string, what: string): void {
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw localFileMissing(file, what);
}

/** Checks on the worker's side that each artifact exists (or its URL answers), and matches a `.sha256` beside it. */
export async function checkArtifactFiles(needs: ArtifactNeed[]): Promise<ArtifactStatus[]> {
  // Which worker looked, so a file missing on one worker of a cluster is not mistaken for a missing file.
  const where = { worker: workerName() };
  return Promise.all(
    needs.map(async (need): Promise<ArtifactStatus> => {
      try {
        if (fs.existsSync(need.localPath)) {
          const sidecar = `${need.localPath}.sha256`;
          if (!fs.existsSync(sidecar)) return { need, present: true, ...where };
          const expected = fs.readFileSync(sidecar, 'utf8').trim().split(/\s+/)[0]!.toLowerCase();
          return { need, present: true, sha256: { expected, actual: await sha256File(need.localPath) }, ...where };
        }
        if (!need.url) return { need, present: false, ...where };
        const res = await fetch(need.url, { method: 'HEAD', signal: AbortSignal.timeout(10_000), redirect: 'follow' }).catch(() => undefined);
        return { need, present: false, reachableUrl: Boolean(res?.ok), ...where };
      } catch (err) {
        return { need, present: false, error: (err as Error).message, ...where };
      }
    }),
  );
}
