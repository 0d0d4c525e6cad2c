import { startChild, workflowInfo } from '@temporalio/workflow';
import type { HostFacts } from '../precheck/host-facts';
import type { HostTarget } from '../config/hosts';
import { rethrowCancellation, rootCause } from './failures';
import { setPhase } from './interceptors';
import { probe } from './proxies';
import { nodeWorkflowIdOf } from './search-attributes';

export interface FactsInput {
  hosts: HostTarget[];
}

export interface HostFactsResult {
  host: string;
  facts?: HostFacts;
  error?: { type: string; message: string };
}

export interface FactsReport {
  hosts: HostFactsResult[];
}

/** Child workflow ids name the run and the host, so the UI lists `<run>/node/<host>` under each run. */
export function nodeWorkflowId(host: string): string {
  return nodeWorkflowIdOf(workflowInfo().workflowId, host);
}

/** `kk facts`: gathers every host's facts in parallel, one child workflow per host. */
export async function factsWorkflow(input: FactsInput): Promise<FactsReport> {
  setPhase('gather-facts');
  const children = await Promise.all(input.hosts.map((host) => startChild(hostFactsWorkflow, { workflowId: nodeWorkflowId(host.name), args: [host] })));
  const settled = await Promise.allSettled(children.map((c) => c.result()));
  // `kk cancel`: the children were cancelled with the run; the run ends cancelled, not as a report of failed hosts.
  rethrowCancellation(settled);
  return {
    hosts: settled.map((s, i) => {
      const host = input.hosts[i]!.name;
      return s.status === 'fulfilled' ? { host, facts: s.value } : { host, error: rootCause(s.reason) };
    }),
  };
}

export async function hostFactsWorkflow(host: HostTarget): Promise<HostFacts> {
  return probe.gatherFacts(host);
}
