import type { HostFacts } from './host-facts';
import type { HostTarget } from '../config/hosts';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  /** null for checks of the configuration as a whole. */
  host: string | null;
  check: string;
  status: CheckStatus;
  message: string;
  /** What to do about a failure or warning. */
  fix?: string;
}

export interface PrecheckReport {
  ok: boolean;
  checks: CheckResult[];
  /** The artifact arches of the registry hosts that answered. */
  arches: string[];
}

/** An artifact the install needs for one arch, resolved on the kk side (paths are where workers read them). */
export interface ArtifactNeed {
  name: string;
  arch: string;
  version: string;
  localPath: string;
  url?: string;
  overrideFlag: string;
}

/**
 * Everything precheck needs, derived from the resolved configuration by the CLI. Host connectors and the S3 keys
 * travel encrypted like every payload.
 */
export interface PrecheckInput {
  hosts: HostTarget[];
  /** sha256 of the work dir's CA certificate (pki/root.crt), when it has one. */
  caSha256?: string;
  /** image_registry.rotate_ca: replacing a CA found on the hosts is allowed. */
  rotateCa: boolean;
  registryHosts: string[];
  controlPlaneHosts: string[];
  nfsHosts: string[];
  type: 'harbor' | 'docker-registry';
  versions: Record<string, string | undefined>;
  haVip?: string;
  /** Ports the registry will listen on, on every registry host. */
  registryPorts: number[];
  /** Path of registry data on the host when storage is local; undefined with object storage or NFS. */
  localDataDir?: string;
  storage: { driver: 'filesystem' | 's3' | 'azure' | 'gcs' | 'none'; nfsMount?: string; missingFields: string[]; drivers: string[] };
  /** S3 storage with an endpoint: each registry host checks it can reach the bucket with these keys. */
  s3?: S3Access;
  thresholds: { minMemoryMb: number; minControlPlaneCpus: number; minDataDiskGb: number; maxClockSkewSeconds: number };
  /** Unsupported combination for which artifacts cannot even be named (e.g. a version missing). */
  artifactsByArch: Record<string, ArtifactNeed[]>;
  artifactErrors: Record<string, string>;
}

export interface S3Access {
  endpoint: string;
  bucket: string;
  region: string;
  accesskey?: string;
  secretkey?: string;
}

/** What one host looks like from precheck's read-only probe. */
export interface HostProbe {
  facts: HostFacts;
  /** Host clock minus the worker's clock, seconds. */
  clockOffsetSeconds: number;
  /** TCP ports something listens on (any address). */
  listening: number[];
  /** What holds each registry port, when something does. */
  portHolders: Record<string, string>;
  /** peer address:port -> open | refused | unreachable (refused still proves the network path). */
  reach: Record<string, 'open' | 'refused' | 'unreachable'>;
  /** Whether something answers on the VIP from this host, and whether this host holds it. */
  vip?: { answered: boolean; heldHere: boolean; keepalivedHere: boolean };
  /** sha256 of each registry CA certificate kk deployed on this host earlier (path -> hash). */
  deployedCa: Record<string, string>;
  /** Whether the NFS client (mount.nfs) is installed. */
  nfsClient: boolean;
  /** HTTP status of a signed HEAD of the S3 bucket from this host, or why there was none. */
  s3?: { status?: number; error?: string };
}

export interface ArtifactStatus {
  need: ArtifactNeed;
  /** The worker that looked (`pid@host`): with several workers, each reads binary_dir on its own machine. */
  worker?: string;
  present: boolean;
  sha256?: { expected: string; actual: string };
  reachableUrl?: boolean;
  error?: string;
}
