import { ApplicationFailure, isCancellation, proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ImagePushResult, PushImagesInput, PushImagesReport } from '../registry/images/types';
import { rootCause } from './failures';
import { setPhase } from './interceptors';

/**
 * One image's push: heartbeats every second, so a dead worker (a killed kk) is noticed within the heartbeat timeout
 * and the push moves on where the next worker (kk resume) runs. Retried alone, with backoff, when the cause may pass;
 * what the registry refuses for good (credentials, a bad manifest) is not retried.
 */
const push = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/** Harbor's API through curl on a node, as the install reaches it. */
const api = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/**
 * `kk artifact images --push`: Harbor's projects on every node, then one activity per image (a few at once) from the
 * machine running kk through the endpoint (the VIP in HA). Every image finishes or fails on its own; in Harbor HA the
 * replication mesh carries each image to the other nodes, and the run waits until every node holds every image.
 */
export async function pushImagesWorkflow(input: PushImagesInput): Promise<PushImagesReport> {
  let projects: PushImagesReport['projects'];
  const harbor = input.harbor;
  if (harbor?.projects.length) {
    setPhase('projects');
    const done = await Promise.all(harbor.nodes.map((n) => api.ensureImageProjects(n, harbor.projects, harbor.publicProjects)));
    projects = Object.fromEntries(harbor.nodes.map((n, i) => [n.host.name, done[i]!]));
  }

  setPhase('push');
  const results: (ImagePushResult | { error: { type: string; message: string } })[] = new Array(input.images.length);
  const queue = input.images.map((_, i) => i);
  let cancelled: unknown;
  // Each image's outcome in the memo: `kk status` and the progress display read it from the server, worker or not.
  const outcome: Record<string, 'done' | 'failed'> = {};
  const record = (i: number, state: 'done' | 'failed') => {
    outcome[input.images[i]!.source] = state;
    upsertMemo({ images: { ...outcome } });
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(input.concurrency, input.images.length)) }, async () => {
      for (let i = queue.shift(); i !== undefined && !cancelled; i = queue.shift()) {
        try {
          results[i] = await push.pushImage(input.target, input.images[i]!);
          record(i, 'done');
        } catch (err) {
          if (isCancellation(err)) cancelled = err;
          results[i] = { error: rootCause(err) };
          record(i, 'failed');
        }
      }
    }),
  );
  if (cancelled) throw cancelled;
  const images = results.filter((r): r is ImagePushResult => r !== undefined && !('error' in r));
  const failed = results.flatMap((r, i) => (r && 'error' in r ? [{ image: input.images[i]!.source, ...r.error }] : []));
  if (failed.length) {
    throw ApplicationFailure.create({
      type: 'ImagesFailed',
      message: `${failed.length} of ${input.images.length} images failed${images.length ? ' (the others are in the registry)' : ''}; once the cause is fixed, run the command again: it sends only what is missing: ${failed.map((f) => `${f.image}: ${f.type}: ${f.message}`).join('; ')}`,
      nonRetryable: true,
      details: [{ failed, done: images }],
    });
  }

  let replicatedTo: string[] | undefined;
  if (harbor && harbor.nodes.length > 1) {
    setPhase('replication');
    await Promise.all(harbor.nodes.flatMap((n) => input.images.map((img) => api.waitHarborArtifact(n, img.repository, img.tag))));
    replicatedTo = harbor.nodes.map((n) => n.host.name);
  }
  return { endpoint: input.target.address, projects, images, replicatedTo };
}
