import { createHash } from 'node:crypto';
import { HarborApi, isHarborApiError } from './api';
import type { HarborPolicy, HarborRegistry, PolicySpec } from './types';

/**
 * The replication mesh of one node, reconciled: a registry endpoint and an event-based push policy (deletions
 * replicated, override on) for every peer. Pure planning, matched by name; kk touches only what it created, marked
 * by both a name prefix and a marker in the description, so a user's own endpoints and policies are never changed.
 */

export const KK_PREFIX = 'kk-';
export const KK_MARKER = '(managed by kk)';

export const meshRegistryName = (peer: string) => `${KK_PREFIX}peer-${peer}`;
export const meshPolicyName = (peer: string) => `${KK_PREFIX}push-to-${peer}`;
/**
 * The credential an endpoint was written with, as a fingerprint kept in its description: Harbor hides stored secrets,
 * so this is how a later run sees, from the running state, that an endpoint holds another secret than the one kk keeps
 * (a run that set a peer's robot secret and failed before rewriting the endpoints, a rotated kept secret). A truncated
 * sha256 of the login and the long random secret: it tells nothing usable about the secret.
 */
export const credentialFingerprint = (peer: Pick<MeshPeer, 'accessKey' | 'accessSecret'>) =>
  createHash('sha256').update(`${peer.accessKey}\n${peer.accessSecret}`).digest('hex').slice(0, 16);
const FINGERPRINT = /\(credential ([0-9a-f]{16})\)/;
export const registryDescription = (peer: MeshPeer) => `kk: replication target ${peer.name} (credential ${credentialFingerprint(peer)}) ${KK_MARKER}`;
const policyDescription = (peer: string) => `kk: event-based push to ${peer}, deletions replicated ${KK_MARKER}`;

export interface MeshPeer {
  /** The peer node's name (inventory host name); names the objects. */
  name: string;
  /** The peer's Harbor, as this node reaches it: `https://<address>:<https_port>`. */
  url: string;
  /** The replication robot's login on the peer (`robot$...`) and its secret. */
  accessKey: string;
  accessSecret: string;
  /** Skip TLS verification of the peer (kk's CA is trusted by Harbor instead; keep false). */
  insecure?: boolean;
}

export interface MeshState {
  registries: HarborRegistry[];
  policies: HarborPolicy[];
}

/** A registry reference in a policy: an existing id, or the endpoint created earlier in the same plan. */
export type RegistryRef = { id: number } | { peer: string };

export type MeshAction =
  | { kind: 'deletePolicy'; id: number; name: string }
  | { kind: 'deleteRegistry'; id: number; name: string }
  | { kind: 'createRegistry'; peer: string; name: string }
  | { kind: 'updateRegistry'; peer: string; id: number; name: string; drift: string[] }
  | { kind: 'createPolicy'; peer: string; name: string; registry: RegistryRef }
  | { kind: 'updatePolicy'; peer: string; id: number; name: string; registry: RegistryRef; drift: string[] };

export interface MeshPlan {
  /** In the order to apply: deletions (policies before their registries), then endpoints, then policies. */
  actions: MeshAction[];
  /** Objects with a kk name that kk did not create: left alone, reported. */
  conflicts: string[];
}

export const isKkOwned = (o: { name: string; description?: string }) => o.name.startsWith(KK_PREFIX) && (o.description ?? '').includes(KK_MARKER);

const trimUrl = (u: string) => u.replace(/\/+$/, '');

export function registryDrift(current: HarborRegistry, peer: MeshPeer): string[] {
  const drift: string[] = [];
  if (trimUrl(current.url) !== trimUrl(peer.url)) drift.push('url');
  if (current.type !== 'harbor') drift.push('type');
  if (current.insecure !== (peer.insecure ?? false)) drift.push('insecure');
  if (current.credential?.access_key !== peer.accessKey || current.credential?.type !== 'basic') drift.push('credential');
  // The secret it holds is known only by the fingerprint it was written with (none: written before kk kept one).
  if (current.description !== registryDescription(peer)) drift.push(FINGERPRINT.exec(current.description ?? '')?.[1] === credentialFingerprint(peer) ? 'description' : 'secret');
  return drift;
}

export function meshPolicySpec(peer: string, registryId: number): PolicySpec {
  return {
    name: meshPolicyName(peer),
    description: policyDescription(peer),
    dest_registry: { id: registryId },
    dest_namespace: '',
    dest_namespace_replace_count: -1,
    trigger: { type: 'event_based', trigger_settings: { cron: '' } },
    filters: [],
    deletion: true,
    override: true,
    enabled: true,
    speed: -1,
    copy_by_chunk: false,
  };
}

export function policyDrift(current: HarborPolicy, peer: string, registryId: number | undefined): string[] {
  const drift: string[] = [];
  if (registryId === undefined || current.dest_registry?.id !== registryId) drift.push('dest_registry');
  if (current.src_registry && current.src_registry.id !== 0) drift.push('src_registry');
  if (current.trigger?.type !== 'event_based') drift.push('trigger');
  if (!(current.deletion ?? current.replicate_deletion)) drift.push('deletion');
  if (!current.override) drift.push('override');
  if (!current.enabled) drift.push('enabled');
  if (current.dest_namespace) drift.push('dest_namespace');
  if (current.filters && current.filters.length > 0) drift.push('filters');
  if (current.description !== policyDescription(peer)) drift.push('description');
  return drift;
}

/** The plan that makes `current` the mesh of `desired` peers. Pure and deterministic (sorted by peer name). */
export function planMesh(desired: MeshPeer[], current: MeshState): MeshPlan {
  const peers = [...new Map(desired.map((p) => [p.name, p])).values()].sort((a, b) => a.name.localeCompare(b.name));
  const wantedRegistries = new Set(peers.map((p) => meshRegistryName(p.name)));
  const wantedPolicies = new Set(peers.map((p) => meshPolicyName(p.name)));
  const deletes: MeshAction[] = [];
  const registryActions: MeshAction[] = [];
  const policyActions: MeshAction[] = [];
  const conflicts: string[] = [];

  const registriesByName = new Map(current.registries.map((r) => [r.name, r]));
  const policiesByName = new Map(current.policies.map((p) => [p.name, p]));
  const deletedRegistryIds = new Set<number>();

  for (const r of current.registries) {
    if (isKkOwned(r) && !wantedRegistries.has(r.name)) {
      deletes.push({ kind: 'deleteRegistry', id: r.id, name: r.name });
      deletedRegistryIds.add(r.id);
    }
  }
  // Policies go first: Harbor refuses (412) to delete a registry a policy references.
  const policyDeletes: MeshAction[] = [];
  const deletedPolicies = new Set<string>();
  for (const p of current.policies) {
    const pointsAtDeleted = p.dest_registry && deletedRegistryIds.has(p.dest_registry.id);
    if (isKkOwned(p) && (!wantedPolicies.has(p.name) || pointsAtDeleted)) {
      policyDeletes.push({ kind: 'deletePolicy', id: p.id, name: p.name });
      deletedPolicies.add(p.name);
    } else if (pointsAtDeleted) {
      // A user's policy uses an endpoint kk wants gone: keep the endpoint rather than break the policy.
      const reg = current.registries.find((r) => r.id === p.dest_registry!.id)!;
      conflicts.push(`policy ${p.name} (not created by kk) uses endpoint ${reg.name}: the endpoint is kept`);
      deletedRegistryIds.delete(reg.id);
      const i = deletes.findIndex((a) => a.kind === 'deleteRegistry' && a.id === reg.id);
      if (i >= 0) deletes.splice(i, 1);
    }
  }

  for (const peer of peers) {
    const regName = meshRegistryName(peer.name);
    const reg = registriesByName.get(regName);
    let ref: RegistryRef | undefined;
    if (!reg) {
      registryActions.push({ kind: 'createRegistry', peer: peer.name, name: regName });
      ref = { peer: peer.name };
    } else if (!isKkOwned(reg)) {
      conflicts.push(`endpoint ${regName} exists but was not created by kk: left alone, and no policy to ${peer.name}`);
    } else {
      const drift = registryDrift(reg, peer);
      if (drift.length > 0) registryActions.push({ kind: 'updateRegistry', peer: peer.name, id: reg.id, name: regName, drift });
      ref = { id: reg.id };
    }

    const polName = meshPolicyName(peer.name);
    // A kk policy deleted above (it pointed at a stale endpoint) is re-created against the wanted one.
    const pol = deletedPolicies.has(polName) ? undefined : policiesByName.get(polName);
    if (pol && !isKkOwned(pol)) {
      conflicts.push(`policy ${polName} exists but was not created by kk: left alone`);
    } else if (ref && !pol) {
      policyActions.push({ kind: 'createPolicy', peer: peer.name, name: polName, registry: ref });
    } else if (ref && pol) {
      const drift = policyDrift(pol, peer.name, 'id' in ref ? ref.id : undefined);
      if (drift.length > 0) policyActions.push({ kind: 'updatePolicy', peer: peer.name, id: pol.id, name: polName, registry: ref, drift });
    }
  }
  return { actions: [...policyDeletes, ...deletes, ...registryActions, ...policyActions], conflicts };
}

export interface AppliedAction {
  action: MeshAction;
  /** The id created or touched. */
  id: number;
}

/**
 * Applies a plan through one node's API. A 409 on create means another run created it meanwhile: the existing
 * object is looked up by name and compared (updated when kk owns it), never duplicated.
 */
export async function applyMeshPlan(api: HarborApi, plan: MeshPlan, peers: MeshPeer[], options: { peerWait?: PeerWait } = {}): Promise<AppliedAction[]> {
  const byName = new Map(peers.map((p) => [p.name, p]));
  const registryIds = new Map<string, number>();
  const done: AppliedAction[] = [];
  const peerOf = (name: string) => {
    const p = byName.get(name);
    if (!p) throw new Error(`mesh plan names peer ${name}, which is not among the desired peers`);
    return p;
  };
  const resolve = (ref: RegistryRef) => {
    if ('id' in ref) return ref.id;
    const id = registryIds.get(ref.peer);
    if (id === undefined) throw new Error(`mesh plan: the endpoint of ${ref.peer} was not created before its policy`);
    return id;
  };
  const flat = (peer: MeshPeer) => ({
    description: registryDescription(peer),
    url: peer.url,
    type: 'harbor',
    insecure: peer.insecure ?? false,
    credential_type: 'basic',
    access_key: peer.accessKey,
    access_secret: peer.accessSecret,
  });

  for (const action of plan.actions) {
    switch (action.kind) {
      case 'deletePolicy':
        await api.deletePolicy(action.id);
        done.push({ action, id: action.id });
        break;
      case 'deleteRegistry':
        await api.deleteRegistry(action.id);
        done.push({ action, id: action.id });
        break;
      case 'createRegistry': {
        const peer = peerOf(action.peer);
        if (options.peerWait) await waitPeerReady(api, peer, options.peerWait);
        let id: number;
        try {
          id = await api.createRegistry({ name: action.name, url: peer.url, type: 'harbor', insecure: peer.insecure ?? false, description: registryDescription(peer), credential: { accessKey: peer.accessKey, accessSecret: peer.accessSecret } });
        } catch (err) {
          if (!isHarborApiError(err, 409)) throw err;
          const existing = (await api.listRegistries()).find((r) => r.name === action.name);
          if (!existing || !isKkOwned(existing)) throw err;
          id = existing.id;
          if (registryDrift(existing, peer).length > 0) await api.updateRegistry(id, flat(peer));
        }
        registryIds.set(action.peer, id);
        done.push({ action, id });
        break;
      }
      case 'updateRegistry':
        if (options.peerWait) await waitPeerReady(api, peerOf(action.peer), options.peerWait);
        await api.updateRegistry(action.id, flat(peerOf(action.peer)));
        registryIds.set(action.peer, action.id);
        done.push({ action, id: action.id });
        break;
      case 'createPolicy': {
        const spec = meshPolicySpec(action.peer, resolve(action.registry));
        let id: number;
        try {
          id = await api.createPolicy(spec);
        } catch (err) {
          if (!isHarborApiError(err, 409)) throw err;
          const existing = (await api.listPolicies()).find((p) => p.name === action.name);
          if (!existing || !isKkOwned(existing)) throw err;
          id = existing.id;
          if (policyDrift(existing, action.peer, spec.dest_registry.id).length > 0) await api.updatePolicy(id, spec);
        }
        done.push({ action, id });
        break;
      }
      case 'updatePolicy':
        await api.updatePolicy(action.id, meshPolicySpec(action.peer, resolve(action.registry)));
        done.push({ action, id: action.id });
        break;
      default: {
        const never: never = action;
        throw new Error(`unknown mesh action ${JSON.stringify(never)}`);
      }
    }
  }
  return done;
}

export interface PeerWait {
  timeoutMs: number;
  intervalMs?: number;
  /** Injected in tests; default setTimeout and Date.now. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** The activity's cancellation: the wait ends with it. */
  signal?: AbortSignal;
}

/** A peer that did not answer Harbor's ping within the deadline; the message names it and its last answer. */
export class PeerNotReadyError extends Error {
  constructor(
    readonly peer: string,
    message: string,
  ) {
    super(message);
    this.name = 'PeerNotReadyError';
  }
}

/** This node's Harbor refused a peer's endpoint itself (a 400 other than "unhealthy": a bad URL): waiting will not help. */
export class PeerRefusedError extends Error {
  constructor(
    readonly peer: string,
    message: string,
  ) {
    super(message);
    this.name = 'PeerRefusedError';
  }
}

/** A failure time may fix: one classified retryable (Temporal's ApplicationFailure, by shape: this module stays pure). */
const retryable = (err: unknown) => err instanceof Error && 'nonRetryable' in err && (err as { nonRetryable?: boolean }).nonRetryable === false;

/**
 * Waits until this node's Harbor reaches the peer with the credential it is to be saved with (POST /registries/ping,
 * flat fields): Harbor pings a peer before saving its endpoint and refuses a down one (500 when its URL does not
 * answer, 400 "unhealthy" when its registry is down), so the endpoint is written only once the ping passes. Only the
 * peer being unreachable or unhealthy (and a retryable failure reaching this node's Harbor) is waited out; anything
 * else (TLS to this node's Harbor, another answer from its API, a URL it refuses) is thrown at once.
 */
export async function waitPeerReady(api: HarborApi, peer: MeshPeer, wait: PeerWait): Promise<void> {
  const sleep = wait.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = wait.now ?? Date.now;
  const deadline = now() + wait.timeoutMs;
  for (;;) {
    let last: string;
    try {
      const r = await api.pingRegistry({ name: meshRegistryName(peer.name), url: peer.url, type: 'harbor', insecure: peer.insecure ?? false, credential: { accessKey: peer.accessKey, accessSecret: peer.accessSecret } });
      if (r.ok) return;
      if (r.reason === 'invalid') throw new PeerRefusedError(peer.name, `this node's Harbor refused the endpoint of peer ${peer.name} (${peer.url}): ${r.message}`);
      last = r.message;
    } catch (err) {
      if (wait.signal?.aborted || !retryable(err)) throw err;
      last = (err as Error).message;
    }
    wait.signal?.throwIfAborted();
    if (now() >= deadline) throw new PeerNotReadyError(peer.name, `peer ${peer.name} (${peer.url}) did not answer this node's Harbor within ${Math.round(wait.timeoutMs / 1000)}s; last answer: ${last}`);
    await sleep(wait.intervalMs ?? 2000);
  }
}

/** Reads a node's mesh state (every page) and plans against it. */
export async function readMeshState(api: HarborApi): Promise<MeshState> {
  return { registries: await api.listRegistries(), policies: await api.listPolicies() };
}
