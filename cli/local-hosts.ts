import * as fs from 'node:fs';
import { withHostsBlock } from '../registry/cluster-trust';

/** The kk machine's hosts file: /etc/hosts, or KK_HOSTS_FILE (tests point it elsewhere). */
export function localHostsFile(): string {
  return process.env.KK_HOSTS_FILE || '/etc/hosts';
}

/**
 * Writes (entries) or removes (none) kk's managed block in the kk machine's hosts file, in place (a container's
 * /etc/hosts is a mount point). Returns what happened, or why it could not, for the summary: kk never fails a run that
 * went through because this machine's hosts file is not writable.
 */
export function updateLocalHosts(entries: { name: string; address: string }[]): string {
  const file = localHostsFile();
  try {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const next = withHostsBlock(current, entries);
    if (next === current) return `${file}: unchanged`;
    fs.writeFileSync(file, next);
    return `${file}: ${entries.length ? `maps ${entries.map((e) => `${e.name} to ${e.address}`).join(', ')}` : "kk's block removed"}`;
  } catch (err) {
    const line = entries.map((e) => `${e.address} ${e.name}`).join('; ');
    return `${file}: not written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})${entries.length ? `; add: ${line}` : ''}`;
  }
}
