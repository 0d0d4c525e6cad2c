import type { ResolvedConfig } from '../../config/load';
import { precheckInput } from '../../precheck/input';
import type { KkContext } from '../context';
import { localHostNames, startAndFollow } from '../follow';
import { runId } from '../run-id';

/** `kk precheck image_registry`: every check an install depends on, as one workflow run; changes nothing. */
export function precheckCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  const input = precheckInput(config);
  return startAndFollow(
    ctx,
    {
      workflowType: 'precheckWorkflow',
      workflowId: runId('precheck', config.inventoryName, config.hosts),
      args: [input],
      memo: { command: 'precheck image_registry', inventory: config.inventoryName, hosts: config.hosts.map((h) => h.name), localHosts: localHostNames(config.hosts) },
    },
    output,
  );
}
