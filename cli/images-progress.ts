import type { Client } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { PushProgress } from '../registry/images/types';
import { decodeFailure } from './progress';
import type { HostProgress } from './format';

/**
 * One row per image of a push run, read from the server alone: done or failed from the run's memo, bytes from the
 * heartbeat of the image's activity under way (retries and the last failure with it), pending otherwise.
 */
export async function imageProgress(client: Client, runId: string, images: readonly string[]): Promise<HostProgress[]> {
  const d = await client.workflow.getHandle(runId).describe();
  const outcome = (d.memo?.images ?? {}) as Record<string, 'done' | 'failed'>;
  const running = new Map<string, HostProgress>();
  for (const a of d.raw.pendingActivities ?? []) {
    if (a.activityType?.name !== 'pushImage' || !a.heartbeatDetails?.payloads?.length) continue;
    const [beat] = (await decodeArrayFromPayloads(client.options.loadedDataConverter, a.heartbeatDetails.payloads).catch(() => [])) as (PushProgress | undefined)[];
    if (!beat?.image) continue;
    running.set(beat.image, {
      host: beat.image,
      status: 'running',
      step: 'pushImage',
      attempt: a.attempt ?? undefined,
      elapsedMs: a.lastStartedTime?.seconds ? Date.now() - Number(a.lastStartedTime.seconds) * 1000 : undefined,
      bytes: beat.total ? { offset: beat.offset, total: beat.total } : undefined,
      lastFailure: await decodeFailure(client, a.lastFailure),
    });
  }
  return images.map((image) => (outcome[image] ? { host: image, status: outcome[image] } : (running.get(image) ?? { host: image, status: 'pending' })));
}
