import type { HostTarget } from './hosts';
import { hostAddress } from './hosts';
import type { Variables } from './variables';

/** Values KubeKey derives from others, computed here and nowhere else. */

export interface RegistryEndpoint {
  /** Host name or IP clients use (no port). */
  host: string | undefined;
  httpPort: number;
  httpsPort: number;
  plainHttp: boolean;
  /** `host` or `host:port` when the port is not the scheme's default: the name in `docker push NAME/...` and certs.d. */
  address: string | undefined;
  scheme: 'http' | 'https';
}

/** Splits `reg.local:8443/library` into host and port (the path part is not part of a registry's address). */
export function splitRegistryName(name: string): { host: string; port?: number } {
  const withoutPath = name.replace(/^[a-z]+:\/\//i, '').split('/')[0]!;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(withoutPath);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : undefined };
  const parts = withoutPath.split(':');
  if (parts.length === 2 && /^\d+$/.test(parts[1]!)) return { host: parts[0]!, port: Number(parts[1]) };
  return { host: withoutPath };
}

/** The registry endpoint: `auth.registry` if set, else `ha_vip`, else the first `image_registry` host's address. */
export function registryEndpoint(vars: Variables, registryHosts: readonly HostTarget[]): RegistryEndpoint {
  const auth = vars.image_registry.auth;
  const named = auth.registry ? splitRegistryName(auth.registry) : undefined;
  const first = registryHosts[0];
  const host = named?.host ?? vars.image_registry.ha_vip ?? (first ? hostAddress(first) : undefined);
  const plainHttp = auth.plain_http;
  const httpsPort = vars.image_registry.https_port ?? (!plainHttp ? named?.port : undefined) ?? 443;
  const httpPort = vars.image_registry.http_port ?? (plainHttp ? named?.port : undefined) ?? 80;
  const port = plainHttp ? httpPort : httpsPort;
  return {
    host,
    httpPort,
    httpsPort,
    plainHttp,
    scheme: plainHttp ? 'http' : 'https',
    address: host === undefined ? undefined : registryAddress(host, port, plainHttp),
  };
}

/** `host` or `host:port` (IPv6 in brackets), the port left out when it is the scheme's default: a registry's name. */
export function registryAddress(host: string, port: number, plainHttp: boolean): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === (plainHttp ? 80 : 443) ? h : `${h}:${port}`;
}

/** KubeKey's `binary_type`: the artifact arch for a `uname -m`, or undefined for an unsupported one. */
export function binaryType(machine: string): 'amd64' | 'arm64' | undefined {
  const m = machine.trim().toLowerCase();
  if (m === 'x86_64' || m === 'amd64') return 'amd64';
  if (m === 'aarch64' || m === 'arm64') return 'arm64';
  return undefined;
}
