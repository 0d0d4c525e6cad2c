import type { HostTarget } from '../config/hosts';
import { FACTS_SCRIPT, parseFacts } from './facts/gather';
import type { HostFacts } from './facts/types';
import { withHeartbeat } from './heartbeat';
import { hostFailure, isHostFailure } from './ssh/errors';
import type { SessionPool } from './ssh/pool';
import { tail } from './ssh/session';

export interface ActivityDeps {
  pool: SessionPool;
}

/** Activities are built by a factory so the worker hands them its SSH pool (and tests a pool of their own). */
export function createActivities({ pool }: ActivityDeps) {
  return {
    /** Reads what a host is: OS, arch, resources, interfaces, docker, existing registry units, clock. */
    async gatherFacts(host: HostTarget): Promise<HostFacts> {
      return withHeartbeat(async (signal) => {
        const session = await pool.get(host);
        try {
          const r = await session.exec(FACTS_SCRIPT, { sudo: true, timeoutMs: 120_000, signal });
          if (r.code !== 0 && !r.stdout.includes('@@end')) throw hostFailure('SshConnectionLost', `${host.name}: facts script failed: ${tail(r.stderr, 500)}`);
          return parseFacts(r.stdout);
        } catch (err) {
          // A timed-out or broken connection is not reused by the next attempt.
          if (isHostFailure(err) && !err.nonRetryable) pool.evict(host);
          throw err;
        }
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
