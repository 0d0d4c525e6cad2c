import type { HostTarget } from '../config/hosts';
import type { RegistryNodeInput } from './types';

/** What a fix for a parked host may carry (see workflows/messages.ts). */
export interface NodeFix {
  host?: HostTarget;
  node?: RegistryNodeInput;
  abort?: boolean;
}

/** A fix may correct how a host is reached and what it gets, not what is installed there: that needs its own run. */
export function refuseInstalledChanges(input: RegistryNodeInput, fix: NodeFix): void {
  const problems: string[] = [];
  if (fix.host && fix.host.name !== input.host.name) problems.push(`the host is ${input.host.name}, not ${fix.host.name}`);
  const next = fix.node;
  if (next) {
    if (next.host.name !== input.host.name) problems.push(`the host is ${input.host.name}, not ${next.host.name}`);
    if (next.type !== input.type) problems.push(`image_registry.type: this run installs ${input.type}, not ${next.type}`);
    else if (next.type === 'harbor' && input.type === 'harbor' && next.harbor.dataDir !== input.harbor.dataDir) problems.push(`image_registry.harbor.data_dir: this run uses ${input.harbor.dataDir}, not ${next.harbor.dataDir}`);
    else if (next.type === 'docker-registry' && input.type === 'docker-registry' && next.hostDataDir !== input.hostDataDir) problems.push(`image_registry.docker_registry.storage.filesystem.rootdir: this run uses ${input.hostDataDir ?? 'object storage'}, not ${next.hostDataDir ?? 'object storage'}`);
    if (next.versions.registry !== input.versions.registry) problems.push(`the registry version: this run installs ${input.versions.registry}, not ${next.versions.registry}`);
    // Anything else a fix may not change either, but how the host is reached, where artifacts are read and the
    // registry's credentials (a password to correct): other values (versions, ports, names) change what is installed.
    if (!problems.length) {
      const other = (n: RegistryNodeInput) => stableJson({ ...n, host: undefined, artifacts: undefined, credentials: undefined, ...(n.type === 'harbor' && { harbor: { ...n.harbor, adminPassword: undefined } }) });
      if (other(next) !== other(input)) problems.push('values other than the connection data, artifact paths and registry credentials differ (versions, ports, names, storage)');
    }
  }
  if (problems.length) throw new Error(`refused for ${input.host.name}: ${problems.join('; ')} (start a new run for that: kk resume --abort, then the command again)`);
}

/** JSON with keys sorted at every level, so two inputs compare by value. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v));
}
