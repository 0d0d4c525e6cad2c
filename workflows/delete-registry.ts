import { ApplicationFailure, executeChild, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { HostTarget } from '../config/hosts';
import type { DeleteRegistryInput, DeleteRegistryReport } from '../registry/cluster-types';
import { nodeWorkflowId } from './facts';
import { rethrowCancellation, rootCause } from './failures';
import { setPhase } from './interceptors';
import { Parking } from './park';

/** Removal steps: stopping compose projects and deleting data can take minutes; retried when the cause may pass. */
const remove = proxyActivities<Activities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

export interface DeleteNodeInput {
  host: HostTarget;
  registry: boolean;
  dataPaths: string[];
  withData: boolean;
  all: boolean;
  trustNames: string[];
  caSha256?: string;
}

/**
 * `kk delete registry`: one `<run>/node/<host>` child per registry and k8s_cluster host, each on its own: a host that
 * cannot be reached parks (as in init, `kk resume` continues it) while the others finish.
 */
export async function deleteRegistryWorkflow(input: DeleteRegistryInput): Promise<DeleteRegistryReport> {
  setPhase('delete');
  const nodes: DeleteNodeInput[] = input.hosts.map((h) => ({ ...h, dataPaths: input.dataPaths, withData: input.withData, all: input.all, trustNames: input.trustNames, caSha256: input.caSha256 }));
  const settled = await Promise.allSettled(nodes.map((n) => executeChild(deleteRegistryNodeWorkflow, { workflowId: nodeWorkflowId(n.host.name), args: [n] })));
  rethrowCancellation(settled);
  const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ host: nodes[i]!.host.name, ...rootCause(r.reason) }] : []));
  if (failed.length) throw ApplicationFailure.create({ type: 'NodesFailed', nonRetryable: true, message: failed.map((f) => `${f.host}: ${f.type}: ${f.message}`).join('; ') });
  return {
    nodes: settled.map((r, i) => ({ host: nodes[i]!.host.name, steps: (r as PromiseFulfilledResult<Record<string, string>>).value })),
    dataPaths: input.dataPaths,
    withData: input.withData,
    all: input.all,
  };
}

/** One host: kk's registry install (registry hosts), the trust entries and /etc/hosts block, and with --all kk's Docker. */
export async function deleteRegistryNodeWorkflow(input: DeleteNodeInput): Promise<Record<string, string>> {
  let host = input.host;
  const parking = new Parking(input.host.name, (fix) => (host = fix.host ?? host));
  const steps: Record<string, string> = {};
  if (input.registry) Object.assign(steps, await parking.step('removeRegistryInstall', () => remove.removeRegistryInstall(host, input.dataPaths, input.withData)));
  steps.trust = await parking.step('removeRegistryTrust', () => remove.removeRegistryTrust(host, input.trustNames, input.caSha256));
  if (input.all) steps.docker = await parking.step('removeKkDocker', () => remove.removeKkDocker(host));
  return steps;
}
