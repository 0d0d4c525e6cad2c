import type { ResolvedConfig } from '../../config/load';
import type { KkContext } from '../context';
import { runId } from '../run-id';
import { lazy } from '../../runtime/lazy';

/** `kk init registry`: precheck, then the install on every registry host, HA assembly and a push/pull check. */
export async function initRegistryCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  // Loaded when used: `kk config` and `kk --help` start without the Temporal client, the PKI and bcrypt.
  const [{ initRegistryInput }, { localHostNames, startAndFollow }] = await Promise.all([lazy<typeof import('../../registry/input')>(() => require('../../registry/input')), lazy<typeof import('../follow')>(() => require('../follow'))]);
  const input = await initRegistryInput(config);
  return startAndFollow(
    ctx,
    {
      workflowType: 'initRegistryWorkflow',
      workflowId: runId('init-registry', config.inventoryName, config.hosts),
      args: [input],
      memo: { command: 'init registry', inventory: config.inventoryName, hosts: input.nodes.map((n) => n.host.name), precheckHosts: config.hosts.map((h) => h.name), localHosts: localHostNames(config.hosts) },
      registryType: config.vars.image_registry.type,
      config,
    },
    output,
  );
}
