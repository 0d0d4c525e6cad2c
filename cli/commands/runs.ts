import type { WorkflowExecutionInfo } from '@temporalio/client';
import { ConfigError } from '../../config/errors';
import { TASK_QUEUE } from '../../runtime/data-converter';
import type { KkContext } from '../context';
import { follow, readMemo, type RunMemo } from '../follow';
import { hostProgress } from '../progress';
import { isChildWorkflowId } from '../run-id';

/** kk's runs (not their child workflows), newest first. */
export async function listRuns(ctx: KkContext): Promise<WorkflowExecutionInfo[]> {
  const runs: WorkflowExecutionInfo[] = [];
  for await (const info of ctx.client.workflow.list({ query: `TaskQueue = '${TASK_QUEUE}'` })) {
    if (!isChildWorkflowId(info.workflowId)) runs.push(info);
  }
  return runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
}

export async function runsCommand(ctx: KkContext, output: 'text' | 'json'): Promise<number> {
  const runs = await listRuns(ctx);
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(runs.map((r) => ({ run: r.workflowId, type: r.type, status: r.status.name.toLowerCase(), startTime: r.startTime, closeTime: r.closeTime ?? null })), null, 2)}\n`);
    return 0;
  }
  if (!runs.length) process.stdout.write('no runs yet\n');
  for (const r of runs) process.stdout.write(`${r.workflowId.padEnd(48)} ${r.status.name.toLowerCase().padEnd(11)} ${r.startTime.toISOString()}\n`);
  return 0;
}

/** The named run, or the newest one (the newest still running, when `running` is asked). */
async function pickRun(ctx: KkContext, named: string | undefined, running: boolean): Promise<string> {
  if (named) return named;
  const runs = await listRuns(ctx);
  const pick = running ? runs.find((r) => r.status.name === 'RUNNING') : runs[0];
  if (!pick) throw new ConfigError([running ? 'no run is in progress; `kk runs` lists them all' : 'no runs yet']);
  return pick.workflowId;
}

export async function statusCommand(ctx: KkContext, named: string | undefined, output: 'text' | 'json'): Promise<number> {
  const id = await pickRun(ctx, named, false);
  const handle = ctx.client.workflow.getHandle(id);
  const d = await handle.describe().catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') throw new ConfigError([`run "${id}" does not exist; \`kk runs\` lists them`]);
    throw err;
  });
  const memo = (d.memo?.kk as RunMemo | undefined) ?? { command: d.type, inventory: '', hosts: [] };
  const hosts = await hostProgress(ctx.client, id, memo.hosts);
  const status = { run: id, type: d.type, command: memo.command, status: d.status.name.toLowerCase(), startTime: d.startTime, closeTime: d.closeTime ?? null, hosts };
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`${id}  ${status.status}  started ${d.startTime.toISOString()}${d.closeTime ? `, ended ${d.closeTime.toISOString()}` : ''}\n`);
  for (const h of hosts) {
    const step = h.step ? `  step ${h.step}${h.attempt && h.attempt > 1 ? ` (attempt ${h.attempt})` : ''}` : '';
    const failure = h.lastFailure ? `  last failure: ${h.lastFailure}` : '';
    process.stdout.write(`  ${h.host.padEnd(16)} ${h.status.padEnd(10)}${step}${failure}\n`);
  }
  return 0;
}

/** `kk resume [RUN]`: re-attaches a worker (embedded default) and follows the run to its end; done steps are not redone. */
export async function resumeCommand(ctx: KkContext, named: string | undefined, output: 'text' | 'json'): Promise<number> {
  const id = await pickRun(ctx, named, true);
  const handle = ctx.client.workflow.getHandle(id);
  const memo = await readMemo(handle).catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') throw new ConfigError([`run "${id}" does not exist; \`kk runs\` lists them`]);
    throw err;
  });
  return follow(ctx, handle, memo ?? { command: '', inventory: '', hosts: [] }, output);
}
