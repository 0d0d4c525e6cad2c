import type { ResolvedConfig } from '../../config/load';
import type { KkContext } from '../context';
import { runId } from '../run-id';
import { lazy } from '../../runtime/lazy';

/**
 * `kk create cluster`: the registry phase of cluster creation (this tool does not bootstrap Kubernetes). The registry
 * is detected, installed or converged as `kk init registry` would, and every k8s_cluster host made able to pull.
 */
export async function createClusterCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  const [{ createClusterInput }, { localHostNames, startAndFollow }, { updateLocalHosts }] = await Promise.all([
    lazy<typeof import('../../registry/cluster-input')>(() => require('../../registry/cluster-input')),
    lazy<typeof import('../follow')>(() => require('../follow')),
    lazy<typeof import('../local-hosts')>(() => require('../local-hosts')),
  ]);
  const input = await createClusterInput(config);
  const hosts = [...new Set([...input.registry.nodes.map((n) => n.host.name), ...input.clusterHosts.map((h) => h.name)])];
  const code = await startAndFollow(
    ctx,
    {
      workflowType: 'createClusterWorkflow',
      workflowId: runId('create-cluster', config.inventoryName, config.hosts),
      args: [input],
      memo: { command: 'create cluster', inventory: config.inventoryName, hosts, precheckHosts: config.hosts.map((h) => h.name), localHosts: localHostNames(config.hosts) },
      registryType: config.vars.image_registry.type,
      config,
    },
    output,
  );
  // The machine running kk resolves the registry's name too.
  if (code === 0 && input.hostsEntries.length) process.stderr.write(`this machine: ${updateLocalHosts(input.hostsEntries)}\n`);
  return code;
}
