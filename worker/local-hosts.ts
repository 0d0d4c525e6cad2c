import * as os from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import type { HostTarget } from '../config/hosts';
import { localHostKey } from '../workflows/local-queue';
import { SessionPool } from '../activities/ssh/pool';
import type { HostSession } from '../activities/ssh/session';

/**
 * A pool that opens a `local` host (commands run as root on this worker's machine, files read from its disk) only
 * when this worker was started for that host: the CLI's in-process worker for the local hosts of the run's own
 * inventory, a `kk worker` for the names given with --local-host / KK_LOCAL_HOSTS. Every session of an activity
 * comes from the pool, so this one gate covers every step.
 */
export class LocalHostGate extends SessionPool {
  constructor(
    settings: ConstructorParameters<typeof SessionPool>[0],
    private readonly localHosts: ReadonlySet<string>,
    private readonly identity: string,
  ) {
    super(settings);
  }

  override get(target: HostTarget): Promise<HostSession> {
    if (target.local && !this.localHosts.has(localHostKey(target))) return Promise.reject(localHostRefused(localHostKey(target), this.identity));
    return super.get(target);
  }
}

export function localHostRefused(name: string, identity: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'LocalHostRefused',
    nonRetryable: true,
    message:
      `${name} is a local host (its commands would run on this worker's machine), and worker ${identity} was not started for it; ` +
      `run \`kk worker --local-host ${name}\` (or KK_LOCAL_HOSTS=${name}) on the machine that is ${name}, or run the command without TEMPORAL_ADDRESS`,
  });
}

/** The worker identity Temporal records in each task's history, as the SDK builds its default. */
export function defaultIdentity(prefix = 'kk-worker'): string {
  return `${prefix}-${process.pid}@${os.hostname()}`;
}

/** `--local-host a,b` and KK_LOCAL_HOSTS=a,b, together (each INVENTORY/NAME). */
export function parseLocalHosts(...values: (string | undefined)[]): Set<string> {
  return new Set(values.flatMap((v) => (v ?? '').split(',')).map((s) => s.trim()).filter(Boolean));
}
