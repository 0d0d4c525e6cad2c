/**
 * What a Kubernetes node needs to pull from the registry, rendered as text: containerd's hosts.toml (the current
 * `config_path` format, not the deprecated `registry.configs`), `config_path` added to containerd's config.toml when it
 * is not set, and the managed block in /etc/hosts. Pure, so workflows and the CLI (the kk machine's /etc/hosts) use it.
 */

export const HOSTS_BLOCK_BEGIN = '# BEGIN kk-registry: managed by kk, removed by kk delete registry';
export const HOSTS_BLOCK_END = '# END kk-registry';
export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';
/** The first line of every hosts.toml kk writes: delete removes only directories whose hosts.toml has it. */
export const HOSTS_TOML_MARKER = '# managed by kk-registry';

/** /etc/hosts without kk's block (the rest kept byte for byte). */
export function stripHostsBlock(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (line === HOSTS_BLOCK_BEGIN) inside = true;
    else if (inside && line === HOSTS_BLOCK_END) inside = false;
    else if (!inside) out.push(line);
  }
  return out.join('\n');
}

/** /etc/hosts with kk's block replaced by one mapping each name to its address (no block when there is none). */
export function withHostsBlock(text: string, entries: { name: string; address: string }[]): string {
  const base = stripHostsBlock(text);
  if (!entries.length) return base;
  const body = base.length && !base.endsWith('\n') ? `${base}\n` : base;
  return `${body}${HOSTS_BLOCK_BEGIN}\n${entries.map((e) => `${e.address} ${e.name}`).join('\n')}\n${HOSTS_BLOCK_END}\n`;
}

/** A registry name that /etc/hosts can map: a DNS name, not an IP address. */
export function isHostName(host: string): boolean {
  return !/^[0-9.]+$/.test(host) && !host.includes(':') && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host);
}

/** The TOML basic string for a value (quotes and backslashes escaped; control characters are refused by config). */
function tomlString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * containerd's hosts.toml for the registry at `endpoint` (`host[:port]`): the server itself, pull and resolve, TLS
 * verified with kk's CA beside it (`caPath`) or plain HTTP.
 */
export function hostsToml(endpoint: string, scheme: 'http' | 'https', caPath?: string, header?: Record<string, string>): string {
  const url = `${scheme}://${endpoint}`;
  const lines = [HOSTS_TOML_MARKER, `server = ${tomlString(url)}`, '', `[host.${tomlString(url)}]`, '  capabilities = ["pull", "resolve"]'];
  if (caPath) lines.push(`  ca = ${tomlString(caPath)}`);
  if (header) {
    lines.push(`  [host.${tomlString(url)}.header]`);
    for (const [k, v] of Object.entries(header)) lines.push(`    ${k} = ${tomlString(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The `config_path` containerd's config sets for registries, if any (version 2 or 3 layout). */
export function containerdConfigPath(toml: string): string | undefined {
  return /^\s*config_path\s*=\s*["']([^"']*)["']/m.exec(toml)?.[1] || undefined;
}

/**
 * containerd's config with `config_path` set to `dir` when it is not set: under the registry table of the CRI plugin
 * (`io.containerd.grpc.v1.cri` in version 2, `io.containerd.cri.v1.images` in version 3), added after that table's
 * header when it exists, else as a new table at the end. Undefined when it is set already (kk keeps it and writes
 * hosts.toml where it points). A missing config becomes a minimal version 2 one.
 */
export function withContainerdConfigPath(toml: string | undefined, dir: string): string | undefined {
  if (toml !== undefined && containerdConfigPath(toml)) return undefined;
  const text = toml ?? 'version = 2\n';
  const v3 = /^\s*version\s*=\s*3\b/m.test(text);
  const table = v3 ? '[plugins."io.containerd.cri.v1.images".registry]' : '[plugins."io.containerd.grpc.v1.cri".registry]';
  const line = `  config_path = ${tomlString(dir)}`;
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim().replace(/'/g, '"') === table);
  if (at >= 0) {
    lines.splice(at + 1, 0, line);
    return lines.join('\n');
  }
  return `${text.endsWith('\n') ? text : `${text}\n`}\n${table}\n${line}\n`;
}
