/**
 * How to reach one inventory host, fully resolved on the kk machine (key files read, defaults applied).
 * Plain JSON so it can travel as a workflow argument; the payload codec keeps the secrets in it encrypted.
 */
export interface HostTarget {
  name: string;
  /** `localhost` or `connector.type: local`: commands run on the machine kk (its worker) runs on, no SSH. */
  local: boolean;
  address: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  internalIPv4?: string;
  internalIPv6?: string;
  /**
   * A local host's inventory (its metadata.name): with the host name it names the host's task queue and the
   * `kk worker --local-host INVENTORY/NAME` that serves it (workflows/local-queue.ts).
   */
  inventory?: string;
}

/** An inventory host's name: also a part of a local host's task queue name (workflows/local-queue.ts). */
export const HOST_NAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** The host's address other hosts should use: internal_ipv4 as KubeKey has it, else the connector address. */
export function hostAddress(host: HostTarget): string {
  return host.internalIPv4 ?? host.internalIPv6 ?? host.address;
}

/** A host without its secrets, for output and logs. */
export function describeHost(host: HostTarget): string {
  return host.local ? `${host.name} (local)` : `${host.name} (${host.user}@${host.address}:${host.port})`;
}
