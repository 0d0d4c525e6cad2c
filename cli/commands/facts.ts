import type { ResolvedConfig } from '../../config/load';
import type { KkContext } from '../context';
import { localHostNames, startAndFollow } from '../follow';
import { runId } from '../run-id';

/** `kk facts`: every inventory host's facts, gathered in parallel by one workflow run. */
export function factsCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  const hosts = config.hosts;
  return startAndFollow(
    ctx,
    {
      workflowType: 'factsWorkflow',
      workflowId: runId('facts', config.inventoryName, hosts),
      args: [{ hosts }],
      memo: { command: 'facts', inventory: config.inventoryName, hosts: hosts.map((h) => h.name), localHosts: localHostNames(config.hosts) },
    },
    output,
  );
}
