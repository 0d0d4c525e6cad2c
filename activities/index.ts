import type { HostTarget } from '../config/hosts';
import type { ArtifactNeed, ArtifactStatus, HostProbe } from '../precheck/types';
import { FACTS_SCRIPT, parseFacts } from './facts/gather';
import { checkArtifactFiles } from './precheck/artifacts';
import { parseProbe, probeScript, type ProbeSpec } from './precheck/probe';
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
  /** Runs a read-only script on a host; a broken or timed-out connection is dropped so the retry reconnects. */
  async function runScript(host: HostTarget, script: string, endMarker: string, what: string, signal: AbortSignal): Promise<string> {
    const session = await pool.get(host);
    try {
      const r = await session.exec(script, { sudo: true, timeoutMs: 120_000, signal });
      if (!r.stdout.includes(endMarker)) throw hostFailure('SshConnectionLost', `${host.name}: ${what} failed: ${tail(r.stderr, 500) || `exit ${r.code}`}`);
      return r.stdout;
    } catch (err) {
      if (isHostFailure(err) && !err.nonRetryable) pool.evict(host);
      throw err;
    }
  }

  return {
    /** Reads what a host is: OS, arch, resources, interfaces, docker, existing registry units, clock. */
    async gatherFacts(host: HostTarget): Promise<HostFacts> {
      return withHeartbeat(async (signal) => parseFacts(await runScript(host, FACTS_SCRIPT, '@@end', 'facts script', signal)));
    },

    /** Precheck's look at a host: facts plus listening ports, reach to peers, the VIP; changes nothing. */
    async probeHost(host: HostTarget, spec: ProbeSpec): Promise<HostProbe> {
      return withHeartbeat(async (signal) => {
        const before = Date.now();
        const out = await runScript(host, `${FACTS_SCRIPT}\n${probeScript(spec)}`, '@@probe-end', 'precheck probe', signal);
        const facts = parseFacts(out.slice(0, out.indexOf('@@end') + 5));
        // The host read its clock early in the script: compare it with the start of the call.
        return { facts, clockOffsetSeconds: facts.clock - before / 1000, ...parseProbe(out, spec) };
      });
    },

    /** Whether every artifact the install needs is where the configuration says (on this worker). */
    async checkArtifacts(needs: ArtifactNeed[]): Promise<ArtifactStatus[]> {
      return checkArtifactFiles(needs);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
