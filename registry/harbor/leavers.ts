/**
 * Matching the peers a node's kk endpoints name (`kk-peer-<name>` → URL) with inventory hosts. Pure, no Node
 * built-ins: the workflow decides with it which leavers kk may clear.
 */

/** A peer as a node's kk endpoint names it: the inventory name in the endpoint's name, and the endpoint's URL. */
export interface MeshPeerRef {
  name: string;
  url: string;
}

/** The host of an endpoint URL (`https://<host>:<port>`, an IPv6 literal in brackets), lower-cased; undefined if none. */
export function urlHost(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(url.trim());
  const host = m?.[1]?.replace(/^\[|\]$/g, '').toLowerCase();
  return host || undefined;
}

/**
 * Whether the endpoints that name a leaver point at the inventory host of that name (one of its addresses): a reused
 * host name must not make kk clear an unrelated Harbor. `mismatched`: the URLs that point elsewhere.
 */
export function leaverMatches(refs: MeshPeerRef[], name: string, addresses: string[]): { ok: boolean; urls: string[]; mismatched: string[] } {
  const known = new Set(addresses.map((a) => a.replace(/^\[|\]$/g, '').toLowerCase()));
  const urls = [...new Set(refs.filter((r) => r.name === name).map((r) => r.url))].sort();
  const mismatched = urls.filter((u) => !known.has(urlHost(u) ?? ''));
  return { ok: urls.length > 0 && mismatched.length === 0, urls, mismatched };
}
