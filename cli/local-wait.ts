import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TASK_QUEUE } from '../runtime/data-converter';
import { localHostOfQueue } from '../workflows/local-queue';

/** A poller seen this recently is alive: a worker's long poll on an idle queue is renewed about every minute. */
const LIVE_MS = 2 * 60_000;

type Pending = temporal.api.workflow.v1.IPendingActivityInfo;

/**
 * Why a step has not started, when it is a local host's step that no worker may take: it waits on the host's queue
 * (workflows/local-queue.ts) until a worker started with `--local-host NAME` polls it, for as long as it takes.
 * Undefined for every other step, while such a worker polls, and for a run of the embedded default (its queue
 * `kk-registry/<run>`): there the command's own worker serves its local hosts, and `kk resume` is what it waits for.
 */
export async function localHostWait(client: Client, pending: Pending | null | undefined): Promise<string | undefined> {
  const queue = pending?.activityOptions?.taskQueue?.name;
  const host = queue ? localHostOfQueue(queue) : undefined;
  const onCluster = queue?.startsWith(`${TASK_QUEUE}@`);
  if (!queue || !host || !onCluster || pending?.state !== temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED) return undefined;
  const described = await client.workflowService
    .describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    })
    .catch(() => undefined);
  if (!described) return undefined; // not allowed to look: say nothing rather than guess
  const now = Date.now();
  const live = (described.pollers ?? []).filter((p) => now - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < LIVE_MS);
  if (live.length) return undefined;
  return `waiting for a worker started with --local-host ${host} (no worker polls ${queue}): run \`kk worker --local-host ${host}\` on the machine that is ${host}`;
}
