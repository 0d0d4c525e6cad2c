import type { HostTarget } from '../config/hosts';
import type { RegistryFound } from './detect';
import type { InitRegistryInput, InitRegistryReport, RegistryNodeInput } from './types';

/** `kk create cluster`'s registry phase: everything resolved by the CLI. */
export interface CreateClusterInput {
  /** The install `kk init registry` would run with the same configuration (run as it is when one is needed). */
  registry: InitRegistryInput;
  /** Per registry host: an HMAC of its node input (keyed in the work dir), recorded on the host after a converge. */
  fingerprints: Record<string, string>;
  /** The k8s_cluster hosts, which must be able to pull. */
  clusterHosts: HostTarget[];
  /** /etc/hosts entries (the registry name to the VIP or first registry host); empty when the endpoint is an address. */
  hostsEntries: { name: string; address: string }[];
  scheme: 'http' | 'https';
}

export type RegistryAction = 'installed' | 'converged' | 'kept' | 'foreign';

/** One k8s_cluster host: its runtime(s), what was configured, and the tool that pulled the probe. */
export interface ClusterNodeInput {
  host: HostTarget;
  /** A registry node's input with this host in it: what installDocker reads (artifacts, versions, plain_http names). */
  dockerTemplate: RegistryNodeInput;
  endpoint: string;
  scheme: 'http' | 'https';
  trustNames: string[];
  /** kk's CA, unless the registry is another installer's that answers under the host's own trust. */
  caCert?: string;
  image: string;
  credentials?: { username: string; password: string };
}

export interface ClusterNodeResult {
  host: string;
  runtime: string;
  steps: Record<string, string>;
  pulledWith: 'docker' | 'ctr';
}

export interface CreateClusterReport {
  endpoint: string;
  registry: { action: RegistryAction; found: Record<string, RegistryFound>; install?: InitRegistryReport; trustedBy?: 'ca' | 'credentials' };
  hostsFile: Record<string, string>;
  nodes: ClusterNodeResult[];
  verification: { image: string; pushedFrom: string };
}

/** `kk delete registry`: the hosts and what to remove from each. */
export interface DeleteRegistryInput {
  hosts: { host: HostTarget; registry: boolean }[];
  dataPaths: string[];
  withData: boolean;
  all: boolean;
  trustNames: string[];
  caSha256?: string;
}

export interface DeleteRegistryReport {
  nodes: { host: string; steps: Record<string, string> }[];
  dataPaths: string[];
  withData: boolean;
  all: boolean;
}
