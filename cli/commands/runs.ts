import { ConfigError } from '../../config/errors';
import type { KkContext } from '../context';
import { failureChain, follow, readMemo, type RunMemo } from '../follow';
import { closedFailure, hostProgress } from '../progress';
import { isChildWorkflowId } from '../run-id';

/**
 * The workflow types a kk command starts (children excluded). Runs are found by type, not by task queue: in the
 * embedded default each run has a queue of its own.
 */
export const RUN_WORKFLOW_TYPES = ['factsWorkflow', 'precheckWorkflow', 'initRegistryWorkflow'] as const;

export interface RunInfo {
  workflowId: string;
  type: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
}

/**
 * kk's runs (not their child workflows), newest first. Read raw: the list needs no payload, and a run whose memo
 * this kk refuses to decode (not encrypted with its key) must not hide the others.
 */
export async function listRuns(ctx: KkContext): Promise<RunInfo[]> {
  const runs: RunInfo[] = [];
  const query = `WorkflowType IN (${RUN_WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ')})`;
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await ctx.client.workflowService.listWorkflowExecutions({ namespace: ctx.endpoint.namespace, query, nextPageToken });
    for (const e of page.executions ?? []) {
      const workflowId = e.execution?.workflowId ?? '';
      if (!workflowId || isChildWorkflowId(workflowId)) continue;
      runs.push({
        workflowId,
        type: e.type?.name ?? '',
        status: statusName(e.status ?? 0),
        startTime: timestamp(e.startTime)!,
        closeTime: timestamp(e.closeTime),
      });
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
}

const STATUS = ['unspecified', 'running', 'completed', 'failed', 'canceled', 'terminated', 'continued_as_new', 'timed_out'];
function statusName(code: number): string {
  return STATUS[code] ?? String(code);
}

function timestamp(t: { seconds?: unknown; nanos?: number | null } | null | undefined): Date | undefined {
  if (!t) return undefined;
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
}

export async function runsCommand(ctx: KkContext, output: 'text' | 'json'): Promise<number> {
  const runs = await listRuns(ctx);
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(runs.map((r) => ({ run: r.workflowId, type: r.type, status: r.status, startTime: r.startTime, closeTime: r.closeTime ?? null })), null, 2)}\n`);
    return 0;
  }
  if (!runs.length) process.stdout.write('no runs yet\n');
  for (const r of runs) process.stdout.write(`${r.workflowId.padEnd(48)} ${r.status.padEnd(11)} ${r.startTime.toISOString()}\n`);
  return 0;
}

/** The named run, or the newest one (the newest still running, when `running` is asked). */
async function pickRun(ctx: KkContext, named: string | undefined, running: boolean): Promise<string> {
  if (named) return named;
  const runs = await listRuns(ctx);
  const pick = running ? runs.find((r) => r.status === 'running') : runs[0];
  if (!pick) throw new ConfigError([running ? 'no run is in progress; `kk runs` lists them all' : 'no runs yet']);
  return pick.workflowId;
}

function notFound(id: string) {
  return (err: Error): never => {
    if (err.name === 'WorkflowNotFoundError') throw new ConfigError([`run "${id}" does not exist; \`kk runs\` lists them`]);
    throw err;
  };
}

export async function statusCommand(ctx: KkContext, named: string | undefined, output: 'text' | 'json'): Promise<number> {
  const id = await pickRun(ctx, named, false);
  const handle = ctx.client.workflow.getHandle(id);
  const d = await handle.describe().catch(notFound(id));
  const memo = (d.memo?.kk as RunMemo | undefined) ?? { command: d.type, inventory: '', hosts: [] };
  const hosts = await hostProgress(ctx.client, id, memo.hosts);
  const failure = d.status.name === 'FAILED' ? await closedFailure(ctx.client, id) : undefined;
  const status = { run: id, type: d.type, command: memo.command, status: d.status.name.toLowerCase(), startTime: d.startTime, closeTime: d.closeTime ?? null, failure, hosts };
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`${id}  ${status.status}  started ${d.startTime.toISOString()}${d.closeTime ? `, ended ${d.closeTime.toISOString()}` : ''}\n`);
  if (failure) process.stdout.write(`  failure: ${failure}\n`);
  for (const h of hosts) {
    const step = h.step ? `  step ${h.step}${h.attempt && h.attempt > 1 ? ` (attempt ${h.attempt})` : ''}` : '';
    const why = h.failure ? `  failure: ${h.failure}` : h.lastFailure ? `  last failure: ${h.lastFailure}` : '';
    process.stdout.write(`  ${h.host.padEnd(16)} ${h.status.padEnd(10)}${step}${why}\n`);
  }
  return 0;
}

/** `kk resume [RUN]`: re-attaches a worker (embedded default) and follows the run to its end; done steps are not redone. */
export async function resumeCommand(ctx: KkContext, named: string | undefined, output: 'text' | 'json'): Promise<number> {
  const id = await pickRun(ctx, named, true);
  const handle = ctx.client.workflow.getHandle(id);
  const memo = await readMemo(handle).catch(notFound(id));
  return follow(ctx, handle, memo ?? { command: '', inventory: '', hosts: [] }, output);
}

/**
 * `kk cancel [RUN]`: asks the run to stop and waits until it has. The workflows turn the request into cancelled
 * children and activities (a step under way is told through its heartbeat); in the embedded default this command's
 * own worker carries that out, on the run's queue.
 */
export async function cancelCommand(ctx: KkContext, named: string | undefined): Promise<number> {
  const id = await pickRun(ctx, named, true);
  const handle = ctx.client.workflow.getHandle(id);
  const d = await handle.describe().catch(notFound(id));
  if (d.status.name !== 'RUNNING') {
    process.stderr.write(`run ${id} is not running (${d.status.name.toLowerCase()}); nothing to cancel\n`);
    return 0;
  }
  const memo = (d.memo?.kk as RunMemo | undefined) ?? { command: '', inventory: '', hosts: [] };
  await handle.cancel();
  const closed = handle.result().then(
    () => 'completed before the cancellation took effect',
    (err: Error) => ((err.cause as Error | undefined)?.name === 'CancelledFailure' ? 'cancelled' : `ended: ${failureChain(err)}`),
  );
  if (ctx.endpoint.embedded) await ctx.runEmbeddedWorker(closed, { taskQueue: d.taskQueue, localHosts: memo.localHosts ?? [] });
  else process.stderr.write(`cancellation of ${id} requested; waiting for the workers to stop it\n`);
  process.stderr.write(`run ${id} ${await closed}\n`);
  return 0;
}
