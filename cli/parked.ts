import type { Client } from '@temporalio/client';
import type { ParkedHost } from '../workflows/messages';
import { haWorkflowIdOf, nodeWorkflowIdOf, precheckNodeWorkflowIdOf } from '../workflows/steps';
import { runChildren, type RunRef } from './run-children';

/** A parked host, with the workflow that waits for its fix. */
export type ParkedAt = ParkedHost & { workflowId: string };

/**
 * Each host's workflow as the server has it: parked (with why), still working, or ended. `hosts` have node
 * workflows (`<run>/node/<host>`); `precheckHosts` are probed first by an install's precheck
 * (`<run>/precheck/node/<host>`). A host counts as busy while its current workflow runs unparked, or while work for
 * it is still to come (not started yet, or precheck done and its node not started).
 */
export async function parkedHosts(client: Client, run: RunRef, hosts: string[], fixesInFlight: ReadonlySet<string> = new Set(), precheckHosts: string[] = []): Promise<{ parked: ParkedAt[]; busy: number }> {
  let busy = 0;
  const parked: ParkedAt[] = [];
  const runId = run.id;
  const ofThisRun = runChildren(client, run);
  const describe = (id: string) => ofThisRun(id).then((d) => (d ? { id, d } : undefined), () => undefined);
  // An install's precheck ends only when every probe has: while it runs, no node work can start.
  const precheckRunning = precheckHosts.length > 0 && (await describe(`${runId}/precheck`))?.d.status.name === 'RUNNING';
  await Promise.all(
    [...new Set([...hosts, ...precheckHosts])].map(async (host) => {
      // The host's latest workflow of this run: its keepalived (HA), else its node work, else its precheck probe.
      const ha = hosts.includes(host) ? await describe(haWorkflowIdOf(runId, host)) : undefined;
      const node = ha ?? (hosts.includes(host) ? await describe(nodeWorkflowIdOf(runId, host)) : undefined);
      const probe = !node && precheckHosts.includes(host) ? await describe(precheckNodeWorkflowIdOf(runId, host)) : undefined;
      const current = node ?? (probe?.d.status.name === 'RUNNING' ? probe : undefined);
      if (!current) {
        // Nothing under way for it: work to come (its probe, or its node work once precheck is over). A host whose
        // probe is done while precheck still runs waits on the other probes, some of which may be parked.
        if (!probe || (hosts.includes(host) && !precheckRunning)) busy++;
        return;
      }
      if (current.d.status.name !== 'RUNNING') return;
      const p = current.d.memo?.parked as ParkedHost | undefined;
      // A fix on its way (kk resume) is work under way, even before the host's workflow took it.
      if (p && !fixesInFlight.has(host)) parked.push({ ...p, workflowId: current.id });
      else busy++;
    }),
  );
  return { parked: parked.sort((a, b) => a.host.localeCompare(b.host)), busy };
}

/**
 * Resolves when the run waits for people only: some hosts parked, none working. The command then says what to fix
 * and exits 3; the run stays where it is (no activity runs, no worker slot is held) until `kk resume`.
 */
export function watchParked(client: Client, run: RunRef, hosts: string[], fixesInFlight?: ReadonlySet<string>, precheckHosts: string[] = [], everyMs = 2000): { parked: Promise<ParkedAt[]>; stop(): void } {
  let stopped = false;
  const parked = new Promise<ParkedAt[]>((resolve) => {
    const tick = async () => {
      if (stopped) return;
      const state = await parkedHosts(client, run, hosts, fixesInFlight, precheckHosts).catch(() => ({ parked: [], busy: 1 }));
      if (state.parked.length && state.busy === 0) resolve(state.parked);
      else setTimeout(() => void tick(), everyMs);
    };
    setTimeout(() => void tick(), everyMs);
  });
  return { parked, stop: () => (stopped = true) };
}

/** The parked hosts with their fixes, for a person (stderr) or as JSON (stdout). */
export function printParked(runId: string, parked: ParkedHost[], output: 'text' | 'json'): void {
  if (output === 'json') process.stdout.write(`${JSON.stringify({ run: runId, status: 'parked', parked }, null, 2)}\n`);
  process.stderr.write(`run ${runId} is parked, waiting for kk resume; every other host went as far as it could:\n`);
  for (const p of parked) process.stderr.write(`  ${p.host}: step ${p.step}: ${p.type}: ${p.message}\n    fix: ${p.fix}\n`);
  process.stderr.write(`after the fix: kk resume ${runId} [-i inventory.yaml] [-c config.yaml] [--set ...]   (or: kk resume --abort ${runId})\n`);
}

/** Exit code of a command whose run parked. */
export const EXIT_PARKED = 3;
