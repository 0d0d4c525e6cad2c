import type { HostTarget } from '../config/hosts';
import type { PrecheckInput, PrecheckReport } from '../precheck/types';
import type { KeepalivedPeer } from './render';

/** Local paths (on the workers) of the artifacts for one arch. */
export interface ArchArtifacts {
  docker: string;
  compose: string;
  /** The registry's own artifact: the docker registry's image tarball, or Harbor's offline installer. */
  registry: string;
  keepalivedImage?: string;
}

/** What every registry host gets, whatever the registry type: Docker, docker-compose, CA trust, and how it is reached. */
interface NodeCommon {
  host: HostTarget;
  /** `registry`: the docker registry's or Harbor's version. */
  versions: { docker: string; compose: string; registry: string };
  artifacts: Record<string, ArchArtifacts>;
  /** The port clients use (https, or http with plain_http). */
  port: number;
  plainHttp: boolean;
  pki: { caCert: string; serverCert: string; serverKey: string };
  /** Names clients use for this registry (endpoint, VIP, node addresses): each gets /etc/docker/certs.d/<name>/ca.crt. */
  trustNames: string[];
  /** This node's own address, for its health gate. */
  address: string;
  vip?: string;
  /** Who pushes and pulls in verification (and later, cluster nodes); undefined for an anonymous registry. */
  credentials?: { username: string; password: string };
}

/** Harbor on one node: what harbor.yml gets, and the secrets kk keeps for it in the work dir. */
export interface HarborSettings {
  /** harbor.yml `hostname`: the node's own address in HA (each node is its own Harbor), else the endpoint's host. */
  hostname: string;
  httpPort: number;
  httpsPort: number;
  dataDir: string;
  adminPassword: string;
  databasePassword: string;
  /** Secret of the system robot `robot$kk-replicator` that peers replicate with (HA). */
  replicationSecret: string;
}

export interface HarborNodeInput extends NodeCommon {
  type: 'harbor';
  harbor: HarborSettings;
}

/** One registry host's install: every value it needs, resolved by the CLI. Secrets travel encrypted, like all payloads. */
export type RegistryNodeInput = DockerRegistryNodeInput | HarborNodeInput;

export interface DockerRegistryNodeInput extends NodeCommon {
  type: 'docker-registry';
  /** Rendered config.yml (holds http.secret and storage keys). */
  registryConfig: string;
  /** The htpasswd file the registry authenticates with; undefined for an anonymous registry. */
  htpasswd?: string;
  /** Host directory bind-mounted as the registry's data (filesystem storage); undefined for object storage. */
  hostDataDir?: string;
  nfs?: { server: string; export: string };
  gcsKeyfile?: { path: string; content: string };
}

export interface RegistryNodeResult {
  host: string;
  arch: string;
  /** What the node did: step -> `skipped` | `installed` | `updated` | `restarted` | …, for the summary and re-run checks. */
  steps: Record<string, string>;
  /** The interface whose subnet holds the VIP, and its prefix length. */
  vipInterface?: { name: string; prefix: number };
  /** The node input as a fix left it, when one was applied (for the run's later steps; never reported: it holds secrets). */
  fixedInput?: RegistryNodeInput;
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
  /** Without ha_vip: hosts whose keepalived (from an earlier HA install) kk removed, and former members it cannot reach. */
  keepalivedRemoved?: { removed?: string[]; unreachableLeavers?: string[] };
  /** Harbor HA: per node, the replication robot, the mesh objects changed, and the backfill executions. */
  replication?: Record<string, { robot: string; mesh: string[]; backfill: string[] }>;
  /**
   * Harbor: hosts that left the mesh (named by a remaining node's kk endpoints). `cleared`: what kk removed on each
   * (its endpoints, push policies and replication robot); `unreachable`: leavers not in the inventory, not cleared;
   * `mismatched`: leavers whose inventory address is not the one their endpoints point at, not cleared, each described.
   */
  meshLeavers?: { cleared: Record<string, string[]>; unreachable?: string[]; mismatched?: string[] };
  /** `digest`: the manifest this run pushed; `replicatedTo`: Harbor HA nodes whose own Harbor holds it (through replication). */
  verification: { image: string; digest: string; pushedFrom: string; pulledOn: string[]; replicatedTo?: string[] };
}
