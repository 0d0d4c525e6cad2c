import { harborLayout } from './harbor/layout';
import { registryLayout } from './layout';
import type { RegistryNodeInput } from './types';

/**
 * What the shared steps (keepalived's check, the VIP gate) need to know of a registry type: where its CA lies on the
 * host and which path says it is up. Pure, so workflows use it.
 */
export function nodePaths(node: RegistryNodeInput): { caPath: string; healthPath: string } {
  switch (node.type) {
    case 'docker-registry':
      return { caPath: `${registryLayout(node.versions.registry).ssl}/ca.crt`, healthPath: '/v2/' };
    case 'harbor':
      return { caPath: `${harborLayout(node.versions.registry).ssl}/ca.crt`, healthPath: '/api/v2.0/health' };
    default:
      throw new Error(`unknown registry type ${(node as { type: string }).type}`);
  }
}
