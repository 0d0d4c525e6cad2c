import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';

export interface HostProgress {
  host: string;
  status: string;
  step?: string;
  attempt?: number;
  elapsedMs?: number;
  lastFailure?: string;
  /** Why the host's workflow failed, when it did. */
  failure?: string;
}

/** Messages of a failure chain, outermost first. */
function chain(err: Error | undefined): string | undefined {
  const parts: string[] = [];
  for (let e = err; e; e = (e as { cause?: Error }).cause) if (e.message) parts.push(e.message);
  return parts.join(': ') || undefined;
}

/**
 * A failure as the server stores it, decoded through kk's codec: with encodeCommonAttributes its message and stack
 * are an encrypted payload, and the raw proto says only "Encoded failure".
 */
export async function decodeFailure(client: Client, failure: temporal.api.failure.v1.IFailure | null | undefined): Promise<string | undefined> {
  if (!failure) return undefined;
  try {
    return chain(await decodeOptionalFailureToOptionalError(client.workflow.options.loadedDataConverter, failure));
  } catch (err) {
    return `(cannot decode the failure: ${(err as Error).message})`;
  }
}

/** Why a closed workflow failed, decoded (its result is the failure). */
export async function closedFailure(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    await client.workflow.getHandle(workflowId).result();
    return undefined;
  } catch (err) {
    return err instanceof WorkflowFailedError ? chain(err.cause) ?? err.message : (err as Error).message;
  }
}

/**
 * Per-host state read from the server alone (each node workflow's status and pending activity), so it works with
 * no worker running: for `kk status` of a parked run as much as for live progress.
 */
export async function hostProgress(client: Client, runId: string, hosts: readonly string[]): Promise<HostProgress[]> {
  return Promise.all(
    hosts.map(async (host): Promise<HostProgress> => {
      try {
        const id = `${runId}/node/${host}`;
        const d = await client.workflow.getHandle(id).describe();
        const pending = d.raw.pendingActivities?.[0];
        const end = d.closeTime?.getTime() ?? Date.now();
        return {
          host,
          status: d.status.name.toLowerCase(),
          step: pending?.activityType?.name ?? undefined,
          attempt: pending?.attempt ?? undefined,
          elapsedMs: end - d.startTime.getTime(),
          lastFailure: await decodeFailure(client, pending?.lastFailure),
          failure: d.status.name === 'FAILED' ? await closedFailure(client, id) : undefined,
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
