import type { Client } from '@temporalio/client';
import type { ParkedHost } from '../workflows/messages';

const nodeId = (runId: string, host: string) => `${runId}/node/${host}`;

/** Each host's child workflow as the server has it: parked (with why), still working, or ended. */
export async function parkedHosts(client: Client, runId: string, hosts: string[], fixesInFlight: ReadonlySet<string> = new Set()): Promise<{ parked: ParkedHost[]; busy: number }> {
  let busy = 0;
  const parked: ParkedHost[] = [];
  await Promise.all(
    hosts.map(async (host) => {
      const d = await client.workflow.getHandle(nodeId(runId, host)).describe().catch(() => undefined);
      // Not started yet (precheck still runs): work to come, so not waiting on people alone.
      if (!d) return void busy++;
      if (d.status.name !== 'RUNNING') return;
      const p = d.memo?.parked as ParkedHost | undefined;
      // A fix on its way (kk resume) is work under way, even before the host's workflow took it.
      if (p && !fixesInFlight.has(host)) parked.push(p);
      else busy++;
    }),
  );
  return { parked: parked.sort((a, b) => a.host.localeCompare(b.host)), busy };
}

/**
 * Resolves when the run waits for people only: some hosts parked, none working. The command then says what to fix
 * and exits 3; the run stays where it is (no activity runs, no worker slot is held) until `kk resume`.
 */
export function watchParked(client: Client, runId: string, hosts: string[], fixesInFlight?: ReadonlySet<string>, everyMs = 2000): { parked: Promise<ParkedHost[]>; stop(): void } {
  let stopped = false;
  const parked = new Promise<ParkedHost[]>((resolve) => {
    const tick = async () => {
      if (stopped) return;
      const state = await parkedHosts(client, runId, hosts, fixesInFlight).catch(() => ({ parked: [], busy: 1 }));
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
