import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { decodeArrayFromPayloads, decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { haWorkflowIdOf, nodeWorkflowIdOf, precheckNodeWorkflowIdOf, stepLabel } from '../workflows/steps';
import { runChildren, type RunRef } from './run-children';
import { duration, hostDetail, type HostProgress } from './format';
import { localHostWait } from './local-wait';

export type { HostProgress };

/** `{offset, total}` wherever the heartbeat details carry it (at the top or one level down). */
function uploadBytes(details: unknown): { offset: number; total: number } | undefined {
  const look = (v: unknown): { offset: number; total: number } | undefined => {
    const o = v as { offset?: unknown; total?: unknown } | undefined;
    return o && typeof o.offset === 'number' && typeof o.total === 'number' ? { offset: o.offset, total: o.total } : undefined;
  };
  if (!details || typeof details !== 'object') return undefined;
  return look(details) ?? Object.values(details).map(look).find(Boolean);
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
export async function hostProgress(client: Client, run: RunRef, hosts: readonly string[]): Promise<HostProgress[]> {
  const runId = run.id;
  const ofThisRun = runChildren(client, run);
  return Promise.all(
    hosts.map(async (host): Promise<HostProgress> => {
      try {
        // The host's latest workflow of this run: its keepalived (HA), else its node work, else its precheck probe.
        let id = haWorkflowIdOf(runId, host);
        let d = await ofThisRun(id);
        if (!d) {
          id = nodeWorkflowIdOf(runId, host);
          d = await ofThisRun(id);
        }
        if (!d) {
          // Before its node work, a host of an install is probed by precheck (which may park it too).
          id = precheckNodeWorkflowIdOf(runId, host);
          d = await ofThisRun(id);
          if (d?.status.name !== 'RUNNING') d = undefined;
        }
        if (!d) return { host, status: 'pending' };
        const pending = d.raw.pendingActivities?.[0];
        const end = d.closeTime?.getTime() ?? Date.now();
        const beat = pending?.heartbeatDetails?.payloads?.length
          ? await decodeArrayFromPayloads(client.options.loadedDataConverter, pending.heartbeatDetails.payloads).catch(() => [])
          : [];
        const parked = d.memo?.parked as { step?: string; reason?: string; failure?: string } | string | undefined;
        return {
          host,
          status: d.status.name.toLowerCase(),
          step: pending?.activityType?.name ?? undefined,
          attempt: pending?.attempt ?? undefined,
          elapsedMs: end - d.startTime.getTime(),
          lastFailure: await decodeFailure(client, pending?.lastFailure),
          failure: d.status.name === 'FAILED' ? await closedFailure(client, id) : undefined,
          bytes: uploadBytes(beat[0]),
          parked: typeof parked === 'string' ? parked : parked ? [parked.step, parked.reason ?? parked.failure].filter(Boolean).join(': ') : undefined,
          waiting: await localHostWait(client, pending),
        };
      } catch (err) {
        if ((err as Error).name === 'WorkflowNotFoundError') return { host, status: 'pending' };
        throw err;
      }
    }),
  );
}

/**
 * Live progress while a run is under way and stdout is a terminal: one line per host redrawn in place (step, bytes
 * and rate during uploads, elapsed, retries, parked reason), and a line printed for good when a host finishes. Not
 * a terminal (or with --output json): one plain line on stderr per change of a host's step or state, so logs read as
 * a sequence and stdout holds only the summary.
 */
export function startProgressDisplay(
  client: Client,
  run: RunRef,
  hosts: readonly string[],
  output: 'text' | 'json' = 'text',
  /** Rows other than one per host (a push: one per image). */
  rowsOf: () => Promise<HostProgress[]> = () => hostProgress(client, run, hosts),
): { stop(): Promise<void> } {
  // stdout carries the summary (JSON with --output json): plain lines go to stderr, beside the run's own messages.
  const tty = output === 'text' && Boolean(process.stdout.isTTY);
  const out = tty ? process.stdout : process.stderr;
  let drawn = 0;
  let stopped = false;
  const finished = new Set<string>();
  const lastLine = new Map<string, string>();
  const lastBytes = new Map<string, { offset: number; at: number; rate?: number }>();
  const rateOf = (r: HostProgress): number | undefined => {
    if (!r.bytes) return undefined;
    const before = lastBytes.get(r.host);
    const now = Date.now();
    if (!before || r.bytes.offset < before.offset) {
      lastBytes.set(r.host, { offset: r.bytes.offset, at: now });
      return undefined;
    }
    if (r.bytes.offset === before.offset) return before.rate;
    const rate = ((r.bytes.offset - before.offset) * 1000) / Math.max(1, now - before.at);
    lastBytes.set(r.host, { offset: r.bytes.offset, at: now, rate });
    return rate;
  };
  const line = (r: HostProgress) => {
    const step = r.step ? ` ${stepLabel(r.step)}` : '';
    const retries = r.attempt && r.attempt > 1 ? ` (retry ${r.attempt - 1})` : '';
    const elapsed = r.elapsedMs !== undefined ? ` ${duration(r.elapsedMs)}` : '';
    const detail = hostDetail(r, rateOf(r));
    return `  ${r.host.padEnd(16)} ${r.status.padEnd(10)}${step}${retries}${elapsed}${detail ? `  ${detail}` : ''}`;
  };
  const draw = async () => {
    const rows = await rowsOf().catch(() => undefined);
    if (!rows || stopped) return;
    if (!tty) {
      for (const r of rows) {
        const text = `${r.host}: ${r.status}${r.step ? ` ${stepLabel(r.step)}` : ''}${r.attempt && r.attempt > 1 ? ` (retry ${r.attempt - 1})` : ''}${r.parked ? ` parked: ${r.parked}` : ''}${r.waiting ? ` ${r.waiting}` : ''}`;
        if (lastLine.get(r.host) !== text) out.write(`${text}\n`);
        lastLine.set(r.host, text);
      }
      return;
    }
    // Hosts that finished are printed once above the live block and leave it.
    const done = rows.filter((r) => r.status !== 'running' && r.status !== 'pending' && !finished.has(r.host));
    const live = rows.filter((r) => r.status === 'running' || r.status === 'pending');
    const lines = [...done.map(line), ...live.map(line)];
    for (const r of done) finished.add(r.host);
    out.write((drawn ? `\x1b[${drawn}A\x1b[J` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''));
    drawn = live.length;
  };
  const timer = setInterval(() => void draw(), 1000);
  void draw();
  return {
    async stop() {
      clearInterval(timer);
      if (!stopped) {
        await draw();
        stopped = true;
      }
    },
  };
}
