import * as path from 'node:path';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { KnownHosts } from '../activities/ssh/known-hosts';
import type { SessionPool } from '../activities/ssh/pool';
import { clusterTaskQueue, kkDataConverter } from '../runtime/data-converter';
import { localTaskQueue } from '../workflows/local-queue';
import { workflowBundle } from './bundle';
import { defaultIdentity, LocalHostGate } from './local-hosts';

export interface KkWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** Where this worker pins host keys (known_hosts) and caches the workflow bundle. */
  workdir: string;
  codecKey: Buffer;
  taskQueue?: string;
  identity?: string;
  /** Names of the `local` inventory hosts this worker may act on (run as root here); none by default. */
  localHosts?: Iterable<string>;
  maxConcurrentActivities?: number;
}

export interface KkWorker {
  /** The run's (or the cluster's) queue: workflows, and every step not on a local host. */
  worker: Worker;
  /** One activity worker per local host this worker was started for, on that host's queue (workflows/local-queue.ts). */
  local: { host: string; taskQueue: string; worker: Worker }[];
  pool: SessionPool;
  identity: string;
  taskQueue: string;
}

/**
 * A worker for kk's task queue, and for each local host it was started for, that host's queue too (a local host's
 * steps go there, so they run on this machine and no other worker's). Its activities share one SSH pool, closed when
 * the worker stops; the pool's local-host gate still refuses a local host it was not started for.
 */
export async function createKkWorker(options: KkWorkerOptions): Promise<KkWorker> {
  const identity = options.identity ?? defaultIdentity();
  const localHosts = [...new Set(options.localHosts ?? [])];
  const pool = new LocalHostGate({ knownHosts: new KnownHosts(path.join(options.workdir, 'known_hosts')) }, new Set(localHosts), identity);
  const activities = createActivities({ pool });
  const taskQueue = options.taskQueue ?? clusterTaskQueue();
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    activities,
    dataConverter: kkDataConverter(options.codecKey),
    identity,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 32,
    shutdownGraceTime: '5 seconds',
  } as const;
  const worker = await Worker.create({ ...common, taskQueue, workflowBundle: await workflowBundle({ cacheDir: path.join(options.workdir, 'cache') }) });
  // Activities only (no workflow code): nothing but a local host's steps is ever scheduled on its queue.
  const local = await Promise.all(
    localHosts.map(async (host) => {
      const q = localTaskQueue(taskQueue, host);
      return { host, taskQueue: q, worker: await Worker.create({ ...common, taskQueue: q }) };
    }),
  );
  return { worker, local, pool, identity, taskQueue };
}

/** Asks every queue's worker of this kk worker to stop (each drains its steps under way). */
export function stopWorker(w: Pick<KkWorker, 'worker' | 'local'>): void {
  for (const x of [w.worker, ...w.local.map((l) => l.worker)]) if (x.getState() === 'RUNNING') x.shutdown();
}

/**
 * Runs the worker on all its queues until `until` settles (or forever, or until one of them stops), then closes its
 * SSH connections. Rejects with what `until` rejected with, or with a queue's worker's own failure.
 */
export async function runWorker(w: Pick<KkWorker, 'worker' | 'local' | 'pool'>, until?: Promise<unknown>): Promise<void> {
  const stop = () => stopWorker(w);
  let rejected: { reason: unknown } | undefined;
  try {
    const runs = [w.worker, ...w.local.map((l) => l.worker)].map((x) => x.run().finally(stop));
    until?.then(stop, (reason: unknown) => {
      rejected = { reason };
      stop();
    });
    const crashed = (await Promise.allSettled(runs)).find((r) => r.status === 'rejected');
    if (crashed) throw crashed.reason;
    if (rejected) throw rejected.reason;
  } finally {
    w.pool.closeAll();
  }
}
