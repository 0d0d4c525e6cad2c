import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { TASK_QUEUE } from '../runtime/data-converter';
import type { KkContext } from './context';
import { uiLink } from './context';
import { startProgressDisplay } from './progress';
import { precheckSummary, summarize } from './summaries';
import type { PrecheckReport } from '../precheck/types';
import { ApplicationFailure } from '@temporalio/common';

/** Kept in each run's memo (encrypted like every payload): what `kk status` and `kk resume` need to show it. */
export interface RunMemo {
  command: string;
  inventory: string;
  hosts: string[];
}

export interface RunSpec {
  workflowType: string;
  workflowId: string;
  args: unknown[];
  memo: RunMemo;
}

/** Starts the run, or attaches to it when the same run is already under way, then follows it to its end. */
export async function startAndFollow(ctx: KkContext, spec: RunSpec, output: 'text' | 'json'): Promise<number> {
  const handle = await ctx.client.workflow.start(spec.workflowType, {
    taskQueue: TASK_QUEUE,
    workflowId: spec.workflowId,
    args: spec.args,
    memo: { kk: spec.memo },
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  return follow(ctx, handle, spec.memo, output);
}

export async function readMemo(handle: WorkflowHandle): Promise<RunMemo | undefined> {
  const d = await handle.describe();
  return (d.memo?.kk as RunMemo | undefined) ?? undefined;
}

/** Follows a run (running an in-process worker in the embedded default) and prints its summary; returns the exit code. */
export async function follow(ctx: KkContext, handle: WorkflowHandle, memo: RunMemo, output: 'text' | 'json'): Promise<number> {
  const link = uiLink(ctx.endpoint, handle.workflowId);
  process.stderr.write(`run ${handle.workflowId}${link ? `  (${link})` : ''}\n`);
  const description = await handle.describe();
  const result = handle.result();
  const progress = description.status.name === 'RUNNING' ? startProgressDisplay(ctx.client, handle.workflowId, memo.hosts) : undefined;
  const onInterrupt = () => {
    process.stderr.write(`\ninterrupted: the run stays where it is; continue it with: kk resume ${handle.workflowId}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    if (ctx.endpoint.embedded && description.status.name === 'RUNNING') await ctx.runEmbeddedWorker(result);
    const value = await result;
    await progress?.stop();
    return summarize(description.type, value, output);
  } catch (err) {
    await progress?.stop();
    if (err instanceof WorkflowFailedError) {
      // A failed precheck stopped the run before any change: show its table.
      if (err.cause instanceof ApplicationFailure && err.cause.type === 'PrecheckFailed' && err.cause.details?.[0]) {
        precheckSummary(err.cause.details[0] as PrecheckReport, output);
        process.stderr.write(`run ${handle.workflowId}: precheck failed; nothing was changed on any host\n`);
        return 1;
      }
      const chain: string[] = [];
      for (let e: Error | undefined = err.cause; e; e = (e as { cause?: Error }).cause) chain.push(e.message);
      process.stderr.write(`run ${handle.workflowId} failed: ${chain.join(': ') || err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}
