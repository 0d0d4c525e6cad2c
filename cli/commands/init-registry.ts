import type { ResolvedConfig } from '../../config/load';
import { initRegistryInput } from '../../registry/input';
import type { KkContext } from '../context';
import { localHostNames, startAndFollow } from '../follow';
import { runId } from '../run-id';

/** `kk init registry`: precheck, then the install on every registry host, HA assembly and a push/pull check. */
export async function initRegistryCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  const input = await initRegistryInput(config);
  return startAndFollow(
    ctx,
    {
      workflowType: 'initRegistryWorkflow',
      workflowId: runId('init-registry', config.inventoryName, config.hosts),
      args: [input],
      memo: { command: 'init registry', inventory: config.inventoryName, hosts: input.nodes.map((n) => n.host.name), localHosts: localHostNames(config.hosts) },
    },
    output,
  );
}
