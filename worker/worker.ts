import * as path from 'node:path';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { KnownHosts } from '../activities/ssh/known-hosts';
import type { SessionPool } from '../activities/ssh/pool';
import { clusterTaskQueue, kkDataConverter } from '../runtime/data-converter';
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

/** A worker for kk's task queue: its activities share one SSH pool, closed when the worker stops. */
export async function createKkWorker(options: KkWorkerOptions): Promise<{ worker: Worker; pool: SessionPool; identity: string }> {
  const identity = options.identity ?? defaultIdentity();
  const pool = new LocalHostGate({ knownHosts: new KnownHosts(path.join(options.workdir, 'known_hosts')) }, new Set(options.localHosts ?? []), identity);
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? clusterTaskQueue(),
    workflowBundle: await workflowBundle({ cacheDir: path.join(options.workdir, 'cache') }),
    activities: createActivities({ pool }),
    dataConverter: kkDataConverter(options.codecKey),
    identity,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 32,
    shutdownGraceTime: '5 seconds',
  });
  return { worker, pool, identity };
}

/** Runs the worker until `until` settles (or forever), then closes its SSH connections. */
export async function runWorker(w: { worker: Worker; pool: SessionPool }, until?: Promise<unknown>): Promise<void> {
  try {
    if (until) await w.worker.runUntil(until);
    else await w.worker.run();
  } finally {
    w.pool.closeAll();
  }
}
