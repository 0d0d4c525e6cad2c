import { ConfigError } from '../../config/errors';
import type { ResumeOptions } from '../fixes';
import type { KkContext } from '../context';
import { KK_ATTRIBUTE_NAMES, stepLabel } from '../../workflows/steps';
import type { RunMemo } from '../follow';
import { age, duration, hostDetail, table, type HostProgress } from '../format';
import { isChildWorkflowId } from '../run-id';
import { lazy } from '../../runtime/lazy';

/**
 * The workflow types a kk command starts (children excluded). Runs are found by type, not by task queue: in the
 * embedded default each run has a queue of its own.
 */
export const RUN_WORKFLOW_TYPES = ['factsWorkflow', 'precheckWorkflow', 'initRegistryWorkflow', 'pushImagesWorkflow', 'createClusterWorkflow', 'deleteRegistryWorkflow'] as const;

export interface RunInfo {
  workflowId: string;
  type: string;
  status: string;
  startTime: Date;
  closeTime?: Date;
  /** From the run's search attributes (or its memo, for runs started before kk set them). */
  hosts: string[];
  phase?: string;
  registryType?: string;
}

/** Decodes the clear JSON of a search attribute (they are never encrypted). */
function attribute(fields: Record<string, { data?: Uint8Array | null }> | null | undefined, name: string): unknown {
  const data = fields?.[name]?.data;
  if (!data?.length) return undefined;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * kk's runs (not their child workflows), newest first. Read raw: the list needs no payload, and a run whose memo
 * this kk refuses to decode (not encrypted with its key) must not hide the others. Only runs without search
 * attributes (started by an older kk) have their memo decoded, for their hosts.
 */
export async function listRuns(ctx: Pick<KkContext, 'client' | 'endpoint'>, extraQuery?: string): Promise<RunInfo[]> {
  const runs: RunInfo[] = [];
  const query = `WorkflowType IN (${RUN_WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ')})${extraQuery ? ` AND ${extraQuery}` : ''}`;
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await ctx.client.workflowService.listWorkflowExecutions({ namespace: ctx.endpoint.namespace, query, nextPageToken });
    for (const e of page.executions ?? []) {
      const workflowId = e.execution?.workflowId ?? '';
      if (!workflowId || isChildWorkflowId(workflowId)) continue;
      const fields = e.searchAttributes?.indexedFields;
      let hosts = attribute(fields, KK_ATTRIBUTE_NAMES.hosts) as string[] | undefined;
      if (!hosts && e.memo?.fields?.kk) {
        const { decodeMapFromPayloads } = await lazy<typeof import('@temporalio/common/lib/internal-non-workflow')>(() => require('@temporalio/common/lib/internal-non-workflow'));
        const memo = await decodeMapFromPayloads(ctx.client.options.loadedDataConverter, e.memo.fields).catch(() => undefined);
        hosts = (memo?.kk as RunMemo | undefined)?.hosts;
      }
      runs.push({
        workflowId,
        type: e.type?.name ?? '',
        status: statusName(e.status ?? 0),
        startTime: timestamp(e.startTime)!,
        closeTime: timestamp(e.closeTime),
        hosts: hosts ?? [],
        phase: attribute(fields, KK_ATTRIBUTE_NAMES.phase) as string | undefined,
        registryType: attribute(fields, KK_ATTRIBUTE_NAMES.registryType) as string | undefined,
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

function runsJson(runs: RunInfo[]) {
  return runs.map((r) => ({
    run: r.workflowId,
    type: r.type,
    status: r.status,
    startTime: r.startTime,
    closeTime: r.closeTime ?? null,
    age: age(r.startTime),
    hosts: r.hosts,
    phase: r.phase ?? null,
    registryType: r.registryType ?? null,
  }));
}

export function runsTable(runs: RunInfo[], now = Date.now()): string {
  if (!runs.length) return 'no runs yet\n';
  return table(
    ['RUN', 'STATE', 'AGE', 'HOSTS', 'PHASE'],
    runs.map((r) => [r.workflowId, r.status, age(r.startTime, now), r.hosts.join(',') || '-', r.phase ?? '-']),
  );
}

export async function runsCommand(ctx: KkContext, output: 'text' | 'json', options: { watch?: boolean } = {}): Promise<number> {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(runsJson(await listRuns(ctx)), null, 2)}\n`);
    return 0;
  }
  if (!options.watch) {
    process.stdout.write(runsTable(await listRuns(ctx)));
    return 0;
  }
  // Until Ctrl-C: redrawn in place on a terminal, a new table only when something changed otherwise.
  await watchLoop(async () => runsTable(await listRuns(ctx)), () => false);
  return 0;
}

/** Redraws `render()` every 2 s until `closed()` says so; on a terminal in place, otherwise only when it changes. */
async function watchLoop(render: () => Promise<string>, closed: () => boolean): Promise<void> {
  let last = '';
  let drawn = 0;
  for (;;) {
    const text = await render();
    if (process.stdout.isTTY) {
      const lines = text.split('\n');
      process.stdout.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}`).join('\n'));
      drawn = lines.length - 1;
    } else if (text !== last) process.stdout.write(`${text}\n`);
    last = text;
    if (closed()) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
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

interface RunStatus {
  run: string;
  type: string;
  command: string;
  status: string;
  startTime: Date;
  closeTime: Date | null;
  age: string;
  phase: string | null;
  failure?: string;
  /** The run's hosts (for a push, the registry's). */
  hostNames: string[];
  /** One progress row per host; for a push (`kk artifact images --push`), per image instead. */
  rows: 'hosts' | 'images';
  /** The run's own steps (not its hosts' workflows') that wait for a worker started for their local host. */
  waiting?: string[];
  hosts: HostProgress[];
}

async function readStatus(ctx: KkContext, id: string): Promise<RunStatus> {
  const handle = ctx.client.workflow.getHandle(id);
  const d = await handle.describe().catch(notFound(id));
  const memo = (d.memo?.kk as RunMemo | undefined) ?? { command: d.type, inventory: '', hosts: [] };
  const { closedFailure, hostProgress } = await lazy<typeof import('../progress')>(() => require('../progress'));
  // A push has one row per image (its bytes, retries and outcome) instead of one per host.
  const images = memo.images;
  const hosts = images ? await (await lazy<typeof import('../images-progress')>(() => require('../images-progress'))).imageProgress(ctx.client, id, images) : await hostProgress(ctx.client, { id, started: d.startTime }, memo.hosts);
  const failure = d.status.name === 'FAILED' ? await closedFailure(ctx.client, id) : undefined;
  const phase = (d.searchAttributes?.[KK_ATTRIBUTE_NAMES.phase]?.[0] as string | undefined) ?? null;
  const { localHostWait } = await lazy<typeof import('../local-wait')>(() => require('../local-wait'));
  const waiting = (await Promise.all((d.raw.pendingActivities ?? []).map((p) => localHostWait(ctx.client, p)))).filter((w): w is string => w !== undefined);
  return {
    run: id, type: d.type, command: memo.command, status: d.status.name.toLowerCase(), startTime: d.startTime, closeTime: d.closeTime ?? null, age: age(d.startTime), phase, failure,
    ...(waiting.length && { waiting }), hostNames: memo.hosts, rows: images ? 'images' : 'hosts', hosts,
  };
}

/** `kubectl get`-like: the run's row, then one row per host (per image for a push) with its step, elapsed time, retries and why. */
export function statusText(s: Pick<RunStatus, 'run' | 'status' | 'age' | 'phase' | 'failure' | 'waiting' | 'hostNames' | 'rows' | 'hosts'>): string {
  const head = table(['RUN', 'STATE', 'AGE', 'HOSTS', 'PHASE'], [[s.run, s.status, s.age, s.hostNames.join(',') || '-', s.phase ?? '-']]);
  const rows = s.hosts.map((h) => [h.host, h.status, h.step ? stepLabel(h.step) : '-', h.elapsedMs !== undefined ? duration(h.elapsedMs) : '-', h.attempt && h.attempt > 1 ? String(h.attempt - 1) : '0', hostDetail(h)]);
  const hosts = s.hosts.length ? `\n${table([s.rows === 'images' ? 'IMAGE' : 'HOST', 'STATE', 'STEP', 'ELAPSED', 'RETRIES', 'DETAIL'], rows)}` : '';
  const waiting = (s.waiting ?? []).map((w) => `${w}\n`).join('');
  return `${head}${s.failure ? `failure: ${s.failure}\n` : ''}${waiting}${hosts}`;
}

export async function statusCommand(ctx: KkContext, named: string | undefined, output: 'text' | 'json', options: { watch?: boolean } = {}): Promise<number> {
  const id = await pickRun(ctx, named, false);
  if (!options.watch) {
    const status = await readStatus(ctx, id);
    process.stdout.write(output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : statusText(status));
    return 0;
  }
  let last: RunStatus | undefined;
  await watchLoop(
    async () => {
      last = await readStatus(ctx, id);
      return output === 'json' ? JSON.stringify(last) : statusText(last);
    },
    () => last?.status !== 'running',
  );
  return last?.status === 'completed' ? 0 : 1;
}

/**
 * `kk resume [RUN]`: re-attaches a worker (embedded default) and follows the run to its end; done steps are not
 * redone. Parked hosts get a fix through the `fixHost` update: the same step again (the cause was fixed on the host),
 * with the host and values of the re-read configuration, or `--abort`.
 */
export async function resumeCommand(ctx: KkContext, named: string | undefined, output: 'text' | 'json', options: ResumeOptions = {}): Promise<number> {
  const id = await pickRun(ctx, named, true);
  const handle = ctx.client.workflow.getHandle(id);
  const { follow, otherBuild } = await lazy<typeof import('../follow')>(() => require('../follow'));
  const { sendFixes } = await lazy<typeof import('../fixes')>(() => require('../fixes'));
  const described = await handle.describe().catch(notFound(id));
  const memo = (described.memo?.kk as RunMemo | undefined) ?? { command: '', inventory: '', hosts: [] };
  const foreign = described.status.name === 'RUNNING' ? otherBuild(id, described.memo?.kk as RunMemo | undefined) : undefined;
  if (foreign) throw new ConfigError([foreign]);
  const sent = await sendFixes(ctx, id, memo, options);
  if (options.abort && !sent.count) throw new ConfigError([`run ${id} has no parked host to abort; \`kk cancel ${id}\` stops a run under way`]);
  const code = await follow(ctx, handle, memo, output, sent.count ? undefined : described, sent.inFlight);
  return sent.refused() ? 2 : code;
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
  const { failureChain, otherBuild } = await lazy<typeof import('../follow')>(() => require('../follow'));
  if (otherBuild(id, d.memo?.kk as RunMemo | undefined)) {
    // No worker of this build may run the other build's cancellation handlers: the run ends where it stands.
    await handle.terminate(`kk cancel: started by another kk build (${memo.build ?? 'unrecorded'}) than this one`);
    process.stderr.write(`run ${id} terminated: it was started by another kk build, which this one cannot replay; its hosts keep what its finished steps did\n`);
    return 0;
  }
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
