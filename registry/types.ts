import type { HostTarget } from '../config/hosts';
import type { PrecheckInput, PrecheckReport } from '../precheck/types';
import type { KeepalivedPeer } from './render';

/** Local paths (on the workers) of the artifacts for one arch. */
export interface ArchArtifacts {
  docker: string;
  compose: string;
  registryImage: string;
  keepalivedImage?: string;
}

/** One registry host's install: every value it needs, resolved by the CLI. Secrets travel encrypted, like all payloads. */
export interface RegistryNodeInput {
  host: HostTarget;
  versions: { docker: string; compose: string; registry: string };
  artifacts: Record<string, ArchArtifacts>;
  /** Rendered config.yml (holds http.secret and storage keys). */
  registryConfig: string;
  /** The htpasswd file the registry authenticates with; undefined for an anonymous registry. */
  htpasswd?: string;
  /** Who pushes and pulls in verification (and later, cluster nodes); undefined for an anonymous registry. */
  credentials?: { username: string; password: string };
  port: number;
  plainHttp: boolean;
  /** Host directory bind-mounted as the registry's data (filesystem storage); undefined for object storage. */
  hostDataDir?: string;
  nfs?: { server: string; export: string };
  gcsKeyfile?: { path: string; content: string };
  pki: { caCert: string; serverCert: string; serverKey: string };
  /** Names clients use for this registry (endpoint, VIP, node addresses): each gets /etc/docker/certs.d/<name>/ca.crt. */
  trustNames: string[];
  /** This node's own address, for its health gate. */
  address: string;
  vip?: string;
}

export interface RegistryNodeResult {
  host: string;
  arch: string;
  /** What the node did: step -> `skipped` | `installed` | `updated` | `restarted` | …, for the summary and re-run checks. */
  steps: Record<string, string>;
  /** The interface whose subnet holds the VIP, and its prefix length. */
  vipInterface?: { name: string; prefix: number };
}

export interface HaInput {
  vip: string;
  keepalivedVersion: string;
  virtualRouterId: number;
  authPass: string;
  /** Registry hosts in inventory order: the first is preferred (highest priority). */
  members: KeepalivedPeer[];
}

export interface InitRegistryInput {
  precheck: PrecheckInput;
  nodes: RegistryNodeInput[];
  ha?: HaInput;
  /** `host[:port]` clients push to: the VIP in HA. */
  endpoint: string;
  /** The kk machine (a local inventory host that is not a registry host), to trust the CA as well. */
  localTrust?: HostTarget;
}

export interface InitRegistryReport {
  endpoint: string;
  precheck: PrecheckReport;
  nodes: RegistryNodeResult[];
  /** `removed`: hosts that left image_registry and whose keepalived kk removed; `unreachableLeavers`: former members not in the inventory. */
  ha?: { vipHolder: string; steps: Record<string, Record<string, string>>; removed?: string[]; unreachableLeavers?: string[] };
  verification: { image: string; pushedFrom: string; pulledOn: string[] };
}
