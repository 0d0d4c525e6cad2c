import { createHash, createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../cli/follow';
import { registryAddress, registryEndpoint } from '../config/derived';
import { ConfigError } from '../config/errors';
import { hostAddress } from '../config/hosts';
import { groupHosts, type ResolvedConfig } from '../config/load';
import { readOrCreateSecret } from '../config/secrets';
import { isHostName } from './cluster-trust';
import type { CreateClusterInput, DeleteRegistryInput } from './cluster-types';
import { initRegistryInput } from './input';

/**
 * What a registry host was converged with, as an HMAC keyed in the work dir: the node's whole input but how it is
 * reached and where the worker keeps the artifacts, plus the HA settings. Equal on the host and here: nothing to do.
 */
function fingerprint(key: string, value: unknown): string {
  return createHmac('sha256', key).update(canonicalJson(value)).digest('hex');
}

/** `kk create cluster`: init registry's input as it is, plus the k8s_cluster hosts and the registry name's hosts entry. */
export async function createClusterInput(config: ResolvedConfig): Promise<CreateClusterInput> {
  const registry = await initRegistryInput(config);
  const key = readOrCreateSecret(config.vars.work_dir, 'registry_input_hmac_key', () => randomBytes(32).toString('base64url')).value;
  const fingerprints = Object.fromEntries(registry.nodes.map((n) => [n.host.name, fingerprint(key, { ...n, host: undefined, artifacts: undefined, ha: registry.ha && { ...registry.ha } })]));
  const registryHosts = groupHosts(config, 'image_registry');
  const endpoint = registryEndpoint(config.vars, registryHosts);
  const target = config.vars.image_registry.ha_vip ? config.vars.image_registry.ha_vip : hostAddress(registryHosts[0]!);
  return {
    registry,
    fingerprints,
    clusterHosts: groupHosts(config, 'k8s_cluster'),
    hostsEntries: endpoint.host && isHostName(endpoint.host) ? [{ name: endpoint.host, address: target }] : [],
    scheme: endpoint.scheme,
  };
}

/** The paths `kk delete registry --with-data` deletes: each registry type's data directory as configured. */
export function registryDataPaths(config: ResolvedConfig): string[] {
  const reg = config.vars.image_registry;
  return [...new Set([reg.harbor.data_dir, reg.docker_registry.storage.filesystem.rootdir])];
}

/** `kk delete registry`: every registry and k8s_cluster host, the registry's names, and this work dir's CA (by hash). */
export function deleteRegistryInput(config: ResolvedConfig, options: { withData: boolean; all: boolean }): DeleteRegistryInput {
  const registryHosts = groupHosts(config, 'image_registry');
  if (!registryHosts.length) throw new ConfigError(['spec.groups.image_registry: no hosts: list the registry hosts there (nothing to delete)']);
  const endpoint = registryEndpoint(config.vars, registryHosts);
  const port = endpoint.plainHttp ? endpoint.httpPort : endpoint.httpsPort;
  const trustNames = [...new Set([endpoint.address!, ...registryHosts.map((h) => registryAddress(hostAddress(h), port, endpoint.plainHttp))])];
  const ca = path.join(config.vars.work_dir, 'pki', 'root.crt');
  const hosts = new Map(registryHosts.map((h) => [h.name, { host: h, registry: true }]));
  for (const h of groupHosts(config, 'k8s_cluster')) if (!hosts.has(h.name)) hosts.set(h.name, { host: h, registry: false });
  return {
    hosts: [...hosts.values()],
    dataPaths: registryDataPaths(config),
    withData: options.withData,
    all: options.all,
    trustNames,
    caSha256: fs.existsSync(ca) ? createHash('sha256').update(fs.readFileSync(ca)).digest('hex') : undefined,
  };
}
