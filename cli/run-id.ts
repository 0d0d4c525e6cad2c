import { createHash } from 'node:crypto';
import type { HostTarget } from '../config/hosts';

/**
 * A run's workflow id comes from the command and the inventory (its name and hosts), so the same install is never
 * started twice at once: a second `kk` for it attaches to the running one.
 */
export function runId(command: string, inventoryName: string, hosts: readonly HostTarget[]): string {
  const identity = hosts
    .map((h) => `${h.name}=${h.local ? 'local' : `${h.user}@${h.address}:${h.port}`}`)
    .sort()
    .join(',');
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  return `kk-${command}-${inventoryName}-${hash}`;
}

/** Runs have ids without a slash; their children (`<run>/node/<host>`, `<run>/precheck`) have one. */
export function isChildWorkflowId(id: string): boolean {
  return id.includes('/');
}
