import type { ResolvedConfig } from '../../config/load';
import type { KkContext } from '../context';
import { runId } from '../run-id';
import { lazy } from '../../runtime/lazy';

/** `kk precheck image_registry`: every check an install depends on, as one workflow run; changes nothing. */
export async function precheckCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  // Loaded when used: `kk config` and `kk --help` start without the Temporal client.
  const [{ precheckInput }, { localHostNames, startAndFollow }] = await Promise.all([lazy<typeof import('../../precheck/input')>(() => require('../../precheck/input')), lazy<typeof import('../follow')>(() => require('../follow'))]);
  const input = precheckInput(config);
  return startAndFollow(
    ctx,
    {
      workflowType: 'precheckWorkflow',
      workflowId: runId('precheck', config.inventoryName, config.hosts),
      args: [input],
      memo: { command: 'precheck image_registry', inventory: config.inventoryName, hosts: config.hosts.map((h) => h.name), localHosts: localHostNames(config.hosts) },
      registryType: config.vars.image_registry.type,
    },
    output,
  );
}
