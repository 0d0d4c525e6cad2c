import type { Client } from '@temporalio/client';

export interface HostProgress {
  host: string;
  status: string;
  step?: string;
  attempt?: number;
  elapsedMs?: number;
  lastFailure?: string;
}

/**
 * Per-host state read from the server alone (each node workflow's status and pending activity), so it works with
 * no worker running: for `kk status` of a parked run as much as for live progress.
 */
export async function hostProgress(client: Client, runId: string, hosts: readonly string[]): Promise<HostProgress[]> {
  return Promise.all(
    hosts.map(async (host): Promise<HostProgress> => {
      try {
        const d = await client.workflow.getHandle(`${runId}/node/${host}`).describe();
        const pending = d.raw.pendingActivities?.[0];
        const end = d.closeTime?.getTime() ?? Date.now();
        return {
          host,
          status: d.status.name.toLowerCase(),
          step: pending?.activityType?.name ?? undefined,
          attempt: pending?.attempt ?? undefined,
          elapsedMs: end - d.startTime.getTime(),
          lastFailure: pending?.lastFailure?.message || undefined,
        };
      } catch (err) {
        if ((err as Error).name === 'WorkflowNotFoundError') return { host, status: 'pending' };
        throw err;
      }
    }),
  );
}

/** Redraws one line per host while a run is under way; silent when stdout is not a terminal. */
export function startProgressDisplay(client: Client, runId: string, hosts: readonly string[]): { stop(): Promise<void> } {
  if (!process.stdout.isTTY) return { stop: async () => undefined };
  let drawn = 0;
  let stopped = false;
  const draw = async () => {
    const rows = await hostProgress(client, runId, hosts).catch(() => undefined);
    if (!rows || stopped) return;
    const lines = rows.map((r) => {
      const step = r.step ? ` ${r.step}${r.attempt && r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}` : '';
      const elapsed = r.elapsedMs !== undefined ? ` ${(r.elapsedMs / 1000).toFixed(0)}s` : '';
      return `  ${r.host.padEnd(16)} ${r.status.padEnd(10)}${step}${elapsed}`;
    });
    process.stdout.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''));
    drawn = lines.length;
  };
  const timer = setInterval(() => void draw(), 1000);
  void draw();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
