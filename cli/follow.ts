import { createHash } from 'node:crypto';
import { WorkflowFailedError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, type SearchAttributePair } from '@temporalio/common';
import { ConfigError } from '../config/errors';
import type { ResolvedConfig } from '../config/load';
import { lazy } from '../runtime/lazy';
import type { HostTarget } from '../config/hosts';
import { localHostKey } from '../workflows/local-queue';
import type { PrecheckReport } from '../precheck/types';
import { workflowBuildId } from '../runtime/build-id';
import { clusterTaskQueue, TASK_QUEUE } from '../runtime/data-converter';
import { KK_HOSTS, KK_PHASE, KK_REGISTRY_TYPE, KK_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { KkContext } from './context';
import { uiLink } from './context';
import { EXIT_PARKED, printParked, watchParked } from './parked';
import { startProgressDisplay } from './progress';
import { precheckSummary, summarize } from './summaries';

/** Kept in each run's memo (encrypted like every payload): what `kk status` and `kk resume` need to show it. */
export interface RunMemo {
  command: string;
  inventory: string;
  hosts: string[];
  /** The inventory's `local` hosts: the in-process worker that resumes the run may act on these, and only these. */
  localHosts?: string[];
  /** sha256 of the canonical JSON of the workflow's arguments: tells a re-run with other input from an attach. */
  inputHash?: string;
  /** An install's precheck probes every inventory host first (`<run>/precheck/node/<host>`); they may park too. */
  precheckHosts?: string[];
  /** The workflow code that started the run (runtime/build-id.ts): only that build may carry it on. */
  build?: string;
  /** A push (`kk artifact images --push`): its images, one progress row each. */
  images?: string[];
}

export interface RunSpec {
  /** The resolved configuration of this command: on a parked run of the same command, it becomes the fix. */
  config?: ResolvedConfig;
  workflowType: string;
  workflowId: string;
  args: unknown[];
  memo: RunMemo;
  /** `image_registry.type`, for the UI's `KkRegistryType` filter (commands about a registry). */
  registryType?: string;
}

let knownAttributes: Promise<Set<string>> | undefined;

/**
 * The run's search attributes (hosts, phase, registry type: names only, they are stored in clear), when the server
 * has kk's keys registered: the embedded server registers them at start; a cluster may not, and setting an unknown
 * one would refuse the start. The workflows upsert the phase only when the run was started with it.
 */
export async function runSearchAttributes(ctx: Pick<KkContext, 'client' | 'endpoint'>, spec: RunSpec): Promise<SearchAttributePair[] | undefined> {
  knownAttributes ??= ctx.client.connection.operatorService
    .listSearchAttributes({ namespace: ctx.endpoint.namespace })
    .then((r: { customAttributes?: Record<string, unknown> | null }) => new Set(Object.keys(r.customAttributes ?? {})))
    .catch(() => new Set<string>());
  const known = await knownAttributes;
  if (!KK_SEARCH_ATTRIBUTES.every((k) => known.has(k.name))) return undefined;
  return [
    { key: KK_HOSTS, value: spec.memo.hosts },
    { key: KK_PHASE, value: 'starting' },
    ...(spec.registryType ? [{ key: KK_REGISTRY_TYPE, value: spec.registryType }] : []),
  ];
}

/** The inventory's local hosts, for the memo: their keys (`<inventory>/<name>`), as the run's worker serves them. */
export function localHostNames(hosts: readonly HostTarget[]): string[] {
  return hosts.filter((h) => h.local).map(localHostKey);
}

/** JSON with object keys sorted at every level (undefined dropped, as JSON does), so equal input hashes equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export function inputHash(args: unknown[]): string {
  return createHash('sha256').update(canonicalJson(args)).digest('hex');
}

/**
 * The task queue a run is started on. Embedded default: a queue of its own, so the in-process worker of one command
 * serves that run alone (never another inventory's parked run); children and activities inherit it. With a cluster:
 * the shared queue the `kk worker` processes poll.
 */
export function runTaskQueue(ctx: Pick<KkContext, 'endpoint'>, workflowId: string): string {
  return ctx.endpoint.embedded ? `${TASK_QUEUE}/${workflowId}` : clusterTaskQueue();
}

/**
 * Why this kk must not carry the run on: it was started by other workflow code (or by a kk that did not record its
 * build), whose history this build's code would not replay.
 */
export function otherBuild(workflowId: string, memo: RunMemo | undefined): string | undefined {
  const ours = workflowBuildId();
  if (memo?.build === ours) return undefined;
  const theirs = memo?.build ? `kk build ${memo.build}` : 'a kk build that did not record itself';
  return `run ${workflowId} was started by ${theirs}; this kk is build ${ours} (kk --version), whose workflow code differs and would not replay the run's history. Finish the run with the kk that started it, or end it where it stands: kk cancel ${workflowId}`;
}

/** Starts the run, or attaches to it when the same run is already under way with the same input, then follows it. */
export async function startAndFollow(ctx: KkContext, spec: RunSpec, output: 'text' | 'json'): Promise<number> {
  const memo: RunMemo = { ...spec.memo, inputHash: inputHash(spec.args), build: workflowBuildId() };
  const handle = await ctx.client.workflow.start(spec.workflowType, {
    taskQueue: runTaskQueue(ctx, spec.workflowId),
    workflowId: spec.workflowId,
    args: spec.args,
    memo: { kk: memo },
    typedSearchAttributes: await runSearchAttributes(ctx, spec),
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  // With USE_EXISTING, start returns the running run when there is one: its memo tells whether it is this input.
  const description = await handle.describe();
  const running = description.memo?.kk as RunMemo | undefined;
  const foreign = description.status.name === 'RUNNING' ? otherBuild(spec.workflowId, running) : undefined;
  if (foreign) throw new ConfigError([foreign]);
  if (running && spec.config) {
    // The same command again on a parked run: its configuration is the fix, as with kk resume -i/-c/--set.
    const { sendFixes } = await lazy<typeof import('./fixes')>(() => require('./fixes'));
    const sent = await sendFixes(ctx, spec.workflowId, running, { config: spec.config });
    if (sent.count) {
      const code = await follow(ctx, handle, running, output, description, sent.inFlight);
      return sent.refused() ? 2 : code;
    }
  }
  if (!running || running.inputHash !== memo.inputHash) {
    const id = spec.workflowId;
    throw new ConfigError([
      `run ${id} is already under way with ${running?.inputHash ? 'different input' : 'input this kk cannot compare'} (the inventory or --set values changed since it started); nothing was started`,
      `continue it with its own input: kk resume ${id}   or cancel it, then run this command again: kk cancel ${id}`,
    ]);
  }
  return follow(ctx, handle, running, output, description);
}

/** Follows a run (running an in-process worker in the embedded default) and prints its summary; returns the exit code. */
export async function follow(ctx: KkContext, handle: WorkflowHandle, memo: RunMemo, output: 'text' | 'json', described?: WorkflowExecutionDescription, fixesInFlight?: ReadonlySet<string>): Promise<number> {
  const link = uiLink(ctx.endpoint, handle.workflowId);
  process.stderr.write(`run ${handle.workflowId}${link ? `  (${link})` : ''}\n`);
  const description = described ?? (await handle.describe());
  const foreign = description.status.name === 'RUNNING' ? otherBuild(handle.workflowId, memo) : undefined;
  if (foreign) throw new ConfigError([foreign]);
  const result = handle.result();
  // The progress and the parked watch poll the run's children; which are this run's is decided by its start time.
  const run = { id: handle.workflowId, started: description.startTime };
  const images = memo.images;
  const rows = images ? async () => (await lazy<typeof import('./images-progress')>(() => require('./images-progress'))).imageProgress(ctx.client, handle.workflowId, images) : undefined;
  const progress = description.status.name === 'RUNNING' ? startProgressDisplay(ctx.client, run, memo.hosts, output, rows) : undefined;
  const onInterrupt = () => {
    process.stderr.write(`\ninterrupted: the run stays where it is; continue it with: kk resume ${handle.workflowId}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  const watch = description.status.name === 'RUNNING' ? watchParked(ctx.client, run, memo.hosts, fixesInFlight, memo.precheckHosts) : undefined;
  try {
    // Ends when the run ends, or when it waits for people alone (parked hosts): then the command exits 3.
    const settled = Promise.race([result.then(() => undefined), watch?.parked ?? new Promise<never>(() => undefined)]);
    // The worker polls the run's own queue (read from the server: runs of older kk versions used the shared one).
    if (ctx.endpoint.embedded && description.status.name === 'RUNNING') {
      await ctx.runEmbeddedWorker(settled, { taskQueue: description.taskQueue, localHosts: memo.localHosts ?? [] });
    }
    const parked = await settled.catch(() => undefined);
    if (parked) {
      await progress?.stop();
      printParked(handle.workflowId, parked, output);
      return EXIT_PARKED;
    }
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
      process.stderr.write(`run ${handle.workflowId} ${err.cause?.name === 'CancelledFailure' ? 'was cancelled' : `failed: ${failureChain(err)}`}\n`);
      return 1;
    }
    throw err;
  } finally {
    watch?.stop();
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** A decoded failure's messages from the outside in (run → child → activity → cause). */
export function failureChain(err: Error): string {
  const chain: string[] = [];
  for (let e: Error | undefined = (err as { cause?: Error }).cause ?? err; e; e = (e as { cause?: Error }).cause) if (e.message) chain.push(e.message);
  return chain.join(': ') || err.message;
}
