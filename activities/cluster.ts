import type { HostTarget } from '../config/hosts';
import type { RegistryFound } from '../registry/detect';
import { configureContainerd, ctrPull, detectRegistry, detectRuntime, endpointAnswers, recordFingerprint, writeHostsBlock, type NodeRuntime } from './install/cluster';
import { removeKkDocker, removeRegistryInstall, removeRegistryTrust } from './install/uninstall';
import type { RegistryCredentials } from './install/verify';
import type { HostSession } from './ssh/session';

type OnHost = <T>(host: HostTarget, step: (session: HostSession, progress: (offset: number, total: number) => void, signal: AbortSignal) => Promise<T>) => Promise<T>;

/** The steps of `kk create cluster` (registry phase) and `kk delete registry`, on the same per-host wrapper as the rest. */
export function clusterActivities(onHost: OnHost) {
  return {
    /** What a registry host runs: kk's install (with a health answer), another installer's, or nothing. Reads only. */
    async detectRegistry(host: HostTarget, health?: { url: string; caPath: string }): Promise<RegistryFound> {
      return onHost(host, (s) => detectRegistry(s, health));
    },
    async recordRegistryInput(host: HostTarget, fingerprint: string): Promise<string> {
      return onHost(host, (s) => recordFingerprint(s, fingerprint));
    },
    /** Whether another installer's registry answers the endpoint with kk's CA or the configured credentials. Reads only. */
    async checkForeignEndpoint(host: HostTarget, url: string, resolve: string | undefined, caCert: string, credentials?: RegistryCredentials): Promise<'ca' | 'credentials' | undefined> {
      return onHost(host, (s) => endpointAnswers(s, url, resolve, caCert, credentials));
    },
    async detectRuntime(host: HostTarget): Promise<NodeRuntime> {
      return onHost(host, (s) => detectRuntime(s));
    },
    async configureContainerd(host: HostTarget, endpoint: string, scheme: 'http' | 'https', caCert?: string): Promise<string> {
      return onHost(host, (s, _p, signal) => configureContainerd(s, endpoint, scheme, caCert, signal));
    },
    async writeHostsBlock(host: HostTarget, entries: { name: string; address: string }[]): Promise<string> {
      return onHost(host, (s) => writeHostsBlock(s, entries));
    },
    async ctrPull(host: HostTarget, image: string, endpoint: string, scheme: 'http' | 'https', credentials?: RegistryCredentials): Promise<string> {
      return onHost(host, (s, _p, signal) => ctrPull(s, image, endpoint, scheme, credentials, signal));
    },
    async removeRegistryInstall(host: HostTarget, dataPaths: string[], withData: boolean): Promise<Record<string, string>> {
      return onHost(host, (s, _p, signal) => removeRegistryInstall(s, dataPaths, withData, signal));
    },
    async removeRegistryTrust(host: HostTarget, names: string[], caSha256?: string): Promise<string> {
      return onHost(host, (s) => removeRegistryTrust(s, names, caSha256));
    },
    async removeKkDocker(host: HostTarget): Promise<string> {
      return onHost(host, (s, _p, signal) => removeKkDocker(s, signal));
    },
  };
}
