import * as fs from 'node:fs';
import type { ArtifactNeed, ArtifactStatus } from '../../precheck/types';
import { sha256File } from '../ssh/file-hash';

/** Checks on the worker's side that each artifact exists (or its URL answers), and matches a `.sha256` beside it. */
export async function checkArtifactFiles(needs: ArtifactNeed[]): Promise<ArtifactStatus[]> {
  return Promise.all(
    needs.map(async (need): Promise<ArtifactStatus> => {
      try {
        if (fs.existsSync(need.localPath)) {
          const sidecar = `${need.localPath}.sha256`;
          if (!fs.existsSync(sidecar)) return { need, present: true };
          const expected = fs.readFileSync(sidecar, 'utf8').trim().split(/\s+/)[0]!.toLowerCase();
          return { need, present: true, sha256: { expected, actual: await sha256File(need.localPath) } };
        }
        if (!need.url) return { need, present: false };
        const res = await fetch(need.url, { method: 'HEAD', signal: AbortSignal.timeout(10_000), redirect: 'follow' }).catch(() => undefined);
        return { need, present: false, reachableUrl: Boolean(res?.ok) };
      } catch (err) {
        return { need, present: false, error: (err as Error).message };
      }
    }),
  );
}
