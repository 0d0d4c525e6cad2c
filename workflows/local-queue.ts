/**
 * Where a `local` host's steps run. A local host is the machine of the worker started for it (`kk worker --local-host
 * INVENTORY/NAME`, or the CLI's in-process worker for its run's own local hosts): every step that acts on it goes to a
 * task queue of that host, `<run's queue>/local/<inventory>/<host>`, which only such workers poll (as Temporal's
 * samples route file processing to the worker that holds the files). The inventory's metadata.name is part of it: two
 * inventories on one cluster each have their own `localhost`, two machines whose steps must never meet on one queue.
 * The run's queue is the embedded `kk-registry/<run>` or a cluster's `kk-registry@<build>`; either way the host's
 * queue follows from it. No imports: the workflows, the workers and the CLI share this.
 */
const MARK = '/local/';

/**
 * What a local host's queue and its workers know it by: `<inventory>/<host>`, or the bare host name for a target that
 * names no inventory (one built by hand, or by a kk before the inventory was part of it).
 */
export function localHostKey(host: { name: string; inventory?: string }): string {
  return host.inventory ? `${host.inventory}/${host.name}` : host.name;
}

/** The task queue a local host's steps go to, for a run on `runQueue`; `host` is its key (localHostKey). */
export function localTaskQueue(runQueue: string, host: string): string {
  return `${runQueue}${MARK}${host}`;
}

/** The local host (its key) a task queue is for, if it is a local host's queue (names hold no `/`). */
export function localHostOfQueue(queue: string): string | undefined {
  // The first mark: an inventory may itself be named `local`.
  const i = queue.indexOf(MARK);
  const host = i >= 0 ? queue.slice(i + MARK.length) : '';
  return host && host.split('/').length <= 2 && !host.split('/').includes('') ? host : undefined;
}

type Target = { name?: unknown; local?: unknown; address?: unknown; inventory?: unknown };
const localName = (t: unknown): string[] => {
  const h = t as Target | undefined;
  if (!(h && typeof h === 'object' && h.local === true && typeof h.name === 'string' && 'address' in h)) return [];
  return [localHostKey({ name: h.name, inventory: typeof h.inventory === 'string' ? h.inventory : undefined })];
};

/**
 * The local hosts an activity acts on, from its arguments: a HostTarget, a node input's `host`, or a list of hosts,
 * in any argument. A step given two local hosts goes to the first one's queue; the other is refused there by the
 * worker's local-host gate (two local hosts are two machines, which no one step can be on).
 */
export function localHostsOfArgs(args: readonly unknown[]): string[] {
  const names = args.flatMap((a) => {
    if (Array.isArray(a)) return a.flatMap(localName);
    if (a && typeof a === 'object') return [...localName(a), ...localName((a as { host?: unknown }).host)];
    return [];
  });
  return [...new Set(names)];
}
