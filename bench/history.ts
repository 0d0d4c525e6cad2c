import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';

/** One activity as its history tells it: scheduled, started (the last attempt) and closed, in epoch ms. */
export interface StepTime {
  workflow: string;
  name: string;
  scheduled: number;
  started: number;
  closed: number;
  attempt: number;
}

interface WorkflowTimes {
  id: string;
  start: number;
  end: number;
  steps: StepTime[];
  children: { id: string; initiated: number; closed: number }[];
}

type Event = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events'] extends (infer E)[] | null | undefined ? E : never;

async function workflowTimes(client: Client, id: string): Promise<WorkflowTimes> {
  const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
  const at = (e: Event) => tsToMs(e.eventTime);
  const scheduled = new Map<string, { name: string; at: number; started?: number; attempt: number }>();
  const initiated = new Map<string, { id: string; at: number }>();
  const steps: StepTime[] = [];
  const children: WorkflowTimes['children'] = [];
  for (const e of events) {
    const eid = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(eid, { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: at(e), attempt: 1 });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const s = scheduled.get(String(started.scheduledEventId))!;
      s.started = at(e);
      s.attempt = started.attempt ?? 1;
    }
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
    if (closed) {
      const s = scheduled.get(String(closed.scheduledEventId))!;
      steps.push({ workflow: id, name: s.name, scheduled: s.at, started: s.started ?? at(e), closed: at(e), attempt: s.attempt });
    }
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) initiated.set(eid, { id: e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId ?? '?', at: at(e) });
    const childClosed =
      e.childWorkflowExecutionCompletedEventAttributes ?? e.childWorkflowExecutionFailedEventAttributes ?? e.childWorkflowExecutionCanceledEventAttributes ?? e.childWorkflowExecutionTerminatedEventAttributes ?? e.childWorkflowExecutionTimedOutEventAttributes;
    if (childClosed) {
      const i = initiated.get(String(childClosed.initiatedEventId))!;
      children.push({ id: i.id, initiated: i.at, closed: at(e) });
    }
  }
  return { id, start: at(events[0]!), end: at(events[events.length - 1]!), steps, children };
}

/**
 * When a step's work began: a retried step (a poll waiting for keepalived's election, say) counts from its first
 * attempt, since its attempts and the backoff between them are waiting for the host, not for the orchestration.
 */
const busyFrom = (s: StepTime) => (s.attempt > 1 ? s.scheduled : s.started);

/** Total length of the union of intervals. */
export function covered(intervals: [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [s, e] = [-Infinity, -Infinity];
  for (const [a, b] of sorted) {
    if (a > e) {
      if (e > s) total += e - s;
      [s, e] = [a, b];
    } else e = Math.max(e, b);
  }
  if (e > s) total += e - s;
  return total;
}

export interface RunAnalysis {
  workflowStart: number;
  workflowEnd: number;
  /** Activities and child workflows, summed over the run and its children. */
  steps: number;
  /** Σ over the run's workflows of (wall − time covered by its activities running and its children), ms. */
  idleMs: number;
  overheadPerStepMs: number;
  /** From the run's start to its first step: the in-process worker starting (bundle, connection) (ms). */
  firstTaskMs: number;
  /** The longest waits inside the run's workflows (nothing of theirs running), longest first. */
  gaps: { workflow: string; after: string; before: string; ms: number }[];
  /** Phases of the run, ms (in order; they add up to the workflow's wall time). */
  phases: Record<string, number>;
  /** Per activity type over the whole run: count, summed and longest run time, summed wait before start (ms). */
  byStep: Record<string, { count: number; totalMs: number; maxMs: number; queuedMs: number; retries: number }>;
  /** The slowest node's steps in order: name, wait before start and run time (ms). */
  slowestNode?: { id: string; wallMs: number; steps: { name: string; queuedMs: number; runMs: number; attempt: number; started: number }[] };
}

const VERIFY = new Set(['ensureHarborProject', 'pushProbe', 'pullProbe', 'waitHarborArtifact']);

/** Reads a run's history and its children's: where the time went, and the orchestration overhead per step. */
export async function analyzeRun(client: Client, runId: string): Promise<RunAnalysis> {
  const top = await workflowTimes(client, runId);
  const all: WorkflowTimes[] = [top];
  for (let i = 0; i < all.length; i++) all.push(...(await Promise.all(all[i]!.children.map((c) => workflowTimes(client, c.id)))));
  let idleMs = 0;
  let steps = 0;
  const gaps: RunAnalysis['gaps'] = [];
  for (const w of all) {
    // The waits between what a workflow runs: where orchestration (not remote work) takes the time.
    const busy = [...w.steps.map((x) => ({ label: x.name, from: busyFrom(x), to: x.closed })), ...w.children.map((c) => ({ label: `child ${c.id.slice(runId.length)}`, from: c.initiated, to: c.closed }))].sort((a, b) => a.from - b.from);
    let cursor = w.start;
    let after = 'start';
    for (const b of [...busy, { label: 'end', from: w.end, to: w.end }]) {
      if (b.from > cursor) gaps.push({ workflow: w.id.slice(runId.length) || '(run)', after, before: b.label, ms: b.from - cursor });
      if (b.to >= cursor) (cursor = b.to), (after = b.label);
    }
    idleMs += w.end - w.start - covered([...w.steps.map((s): [number, number] => [busyFrom(s), s.closed]), ...w.children.map((c): [number, number] => [c.initiated, c.closed])]);
    steps += w.steps.length + w.children.length;
  }
  // The run's first wait: its first workflow task, which waits for the CLI's in-process worker to come up.
  const firstTaskMs = gaps.find((g) => g.workflow === '(run)' && g.after === 'start')?.ms ?? 0;
  const byStep: RunAnalysis['byStep'] = {};
  for (const s of all.flatMap((w) => w.steps)) {
    const b = (byStep[s.name] ??= { count: 0, totalMs: 0, maxMs: 0, queuedMs: 0, retries: 0 });
    b.count++;
    b.totalMs += s.closed - s.started;
    b.maxMs = Math.max(b.maxMs, s.closed - s.started);
    b.queuedMs += s.started - s.scheduled;
    b.retries += s.attempt - 1;
  }
  const precheck = top.children.find((c) => c.id.endsWith('/precheck'));
  const nodes = top.children.filter((c) => c.id.includes('/node/'));
  const firstVerify = Math.min(...top.steps.filter((s) => VERIFY.has(s.name)).map((s) => s.scheduled), top.end);
  const t1 = precheck?.closed ?? top.start;
  const t2 = nodes.length ? Math.max(...nodes.map((n) => n.closed)) : t1;
  const phases = { precheck: t1 - top.start, nodes: t2 - t1, 'ha+mesh': firstVerify - t2, verify: top.end - firstVerify };
  const slowest = all.filter((w) => w.id.includes('/node/') && !w.id.includes('/precheck/')).sort((a, b) => b.end - b.start - (a.end - a.start))[0];
  return {
    workflowStart: top.start,
    workflowEnd: top.end,
    steps,
    idleMs,
    overheadPerStepMs: steps ? idleMs / steps : 0,
    firstTaskMs,
    gaps: gaps.sort((a, b) => b.ms - a.ms).slice(0, 12),
    phases,
    byStep,
    slowestNode: slowest && { id: slowest.id, wallMs: slowest.end - slowest.start, steps: slowest.steps.map((s) => ({ name: s.name, queuedMs: s.started - s.scheduled, runMs: s.closed - s.started, attempt: s.attempt, started: s.started })) },
  };
}
