import { isIP } from 'node:net';
import type { Problems } from './errors';
import { hostAddress, type HostTarget } from './hosts';

/**
 * keepalived's unicast_src_ip and unicast_peer take IP literals only: with image_registry.ha_vip set, every registry
 * host (each runs kk's keepalived, even alone) needs an IP address as its address. A DNS name in connector.host (or a
 * host named without connector.host) needs internal_ipv4 / internal_ipv6; a local host's 127.0.0.1 is no address its
 * peers can use, so it needs one too.
 */
export function checkKeepalivedAddresses(haVip: string | undefined, registryHosts: readonly string[], hosts: readonly HostTarget[], explicitHost: (name: string) => boolean, problems: Problems): void {
  if (!haVip) return;
  for (const name of registryHosts) {
    const host = hosts.find((h) => h.name === name);
    if (!host) continue;
    const fix = `set spec.hosts.${name}.internal_ipv4 (or internal_ipv6) to the address its keepalived peers reach it on`;
    if (host.local && !host.internalIPv4 && !host.internalIPv6) {
      problems.add(`spec.hosts.${name}`, `a local host in the HA set (image_registry.ha_vip) needs an IP address its keepalived peers can use, not 127.0.0.1: ${fix}`);
    } else if (isIP(hostAddress(host)) === 0) {
      const where = explicitHost(name) ? `spec.hosts.${name}.connector.host` : `spec.hosts.${name}`;
      problems.add(where, `${JSON.stringify(hostAddress(host))} is a host name, but keepalived (image_registry.ha_vip) takes IP addresses only: ${fix}, or connector.host to its IP address`);
    }
  }
}
