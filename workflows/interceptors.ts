import {
  isCancellation,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityInput,
  type Next,
  type StartChildWorkflowExecutionInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { localHostsOfArgs, localTaskQueue } from './local-queue';
import { activitySummary, hostOfNodeWorkflowId, KK_HOSTS, KK_PHASE, KK_REGISTRY_TYPE } from './search-attributes';

/**
 * What the UI shows of every kk workflow without reading a payload: the phase (search attribute `KkPhase`, and the
 * current details), the steps under way with the host each acts on (current details, activity summaries), and for
 * node children their host (`KkHosts`); and every step that acts on a `local` host goes to that host's task queue
 * (workflows/local-queue.ts), which only a worker started for the host polls. Done here once, for every workflow and
 * every step, so the plan code stays about the plan.
 *
 * Search attributes are upserted only when the run was started with them (the CLI sets them when the server knows
 * the keys): a server without them would fail the workflow task, and runs started before this code, which replay on
 * it, must issue no new command.
 */
interface State {
  phase: string;
  running: Map<number, string>;
  done: number;
}

let state: State | undefined;
const current = (): State => (state ??= { phase: 'starting', running: new Map(), done: 0 });

function searchAttributesOn(): boolean {
  return workflowInfo().typedSearchAttributes.get(KK_PHASE) !== undefined;
}

function render(): void {
  const s = current();
  const lines = [`**phase:** ${s.phase}`];
  if (s.running.size) lines.push('', '**under way:**', ...[...s.running.values()].map((step) => `- ${step}`));
  lines.push('', `steps done: ${s.done}`);
  setCurrentDetails(lines.join('\n'));
}

/** Moves the workflow to a new phase: the `KkPhase` search attribute (filterable in the UI) and its current details. */
export function setPhase(phase: string): void {
  const s = current();
  if (s.phase === phase) return;
  s.phase = phase;
  if (searchAttributesOn() && workflowInfo().typedSearchAttributes.get(KK_PHASE) !== phase) upsertSearchAttributes([{ key: KK_PHASE, value: phase }]);
  render();
}

const CHILD_PHASES: Record<string, string> = { hostFactsWorkflow: 'gather-facts', hostProbeWorkflow: 'probe-hosts', registryNodeWorkflow: 'install-nodes', keepalivedNodeWorkflow: 'ha' };

class Outbound implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    const summary = input.options.summary ?? activitySummary(input.activityType, input.args);
    const s = current();
    s.running.set(input.seq, summary);
    // A node workflow's phase is its current step: the UI's list then says where each host stands.
    if (hostOfNodeWorkflowId(workflowInfo().workflowId)) setPhase(input.activityType);
    else render();
    // A local host's step waits on its own queue for the worker started for that host, wherever the run's queue is.
    const local = input.options.taskQueue ? undefined : localHostsOfArgs(input.args)[0];
    const taskQueue = local ? localTaskQueue(workflowInfo().taskQueue, local) : input.options.taskQueue;
    try {
      return await next({ ...input, options: { ...input.options, summary, ...(taskQueue && { taskQueue }) } });
    } finally {
      s.running.delete(input.seq);
      s.done++;
      render();
    }
  }

  async startChildWorkflowExecution(input: StartChildWorkflowExecutionInput, next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>) {
    // Starting children is a phase of its own: the run's precheck, or the work on every host.
    const phase = input.options.workflowId.endsWith('/precheck') ? 'precheck' : CHILD_PHASES[input.workflowType];
    if (phase) setPhase(phase);
    if (!searchAttributesOn() || input.options.typedSearchAttributes) return next(input);
    // Node children carry their host and the run's registry type, so `KkHosts = "node1"` finds the host's workflows.
    const host = hostOfNodeWorkflowId(input.options.workflowId);
    const parent = workflowInfo().typedSearchAttributes;
    const type = parent.get(KK_REGISTRY_TYPE);
    const hosts = host ? [host] : parent.get(KK_HOSTS);
    return next({
      ...input,
      options: {
        ...input.options,
        typedSearchAttributes: [
          { key: KK_PHASE, value: 'starting' },
          ...(hosts ? [{ key: KK_HOSTS, value: [...hosts] }] : []),
          ...(type ? [{ key: KK_REGISTRY_TYPE, value: type }] : []),
        ],
      },
    });
  }
}

class Inbound implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    render();
    try {
      const result = await next(input);
      setPhase('done');
      return result;
    } catch (err) {
      setPhase(isCancellation(err) ? 'cancelled' : 'failed');
      throw err;
    }
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new Inbound()], outbound: [new Outbound()] });
