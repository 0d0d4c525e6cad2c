import type { ResolvedConfig } from '../../config/load';
import type { KkContext } from '../context';
import { runId } from '../run-id';
import { lazy } from '../../runtime/lazy';

/** `kk facts`: every inventory host's facts, gathered in parallel by one workflow run. */
export async function factsCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  const { localHostNames, startAndFollow } = await lazy<typeof import('../follow')>(() => require('../follow')); // the Temporal client: loaded when used
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
