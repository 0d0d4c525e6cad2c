import { ApplicationFailure, executeChild, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { interfaceFor } from '../precheck/cidr';
import { leaverMatches, type MeshPeerRef } from '../registry/harbor/leavers';
import { nodePaths } from '../registry/node-paths';
import { VERIFY_PROJECT, VERIFY_REPOSITORY } from '../registry/verify';
import type { HarborNodeInput, InitRegistryInput, InitRegistryReport, RegistryNodeInput, RegistryNodeResult } from '../registry/types';
import { hostAddress, type HostTarget } from '../config/hosts';
import type { KeepalivedSettings } from '../registry/render';
import { nodeWorkflowId } from './facts';
import { rethrowCancellation, rootCause } from './failures';
import { setPhase } from './interceptors';
import { haWorkflowIdOf } from './steps';
import { refuseInstalledChanges } from '../registry/fix-check';
import { Parking } from './park';
import { precheckWorkflow } from './precheck';
import { probe } from './proxies';

/** Install steps: long (uploads, image loads), heartbeating, retried with backoff when the cause may pass. */
const install = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** Seconds from the probe's push within which every Harbor HA node must hold it (through replication). */
export const REPLICATION_BOUND_SECONDS = 180;

/**
 * Waiting for the probe on each Harbor node: every attempt polls until the same deadline and a miss is final (the
 * activity's own error names the bound); retries cover a lost connection, and the whole wait is capped at the bound
 * plus a minute for the last answer, so no retry stretches it.
 */
const replicationWait = proxyActivities<Activities>({
  startToCloseTimeout: (REPLICATION_BOUND_SECONDS + 60) * 1000,
  scheduleToCloseTimeout: (REPLICATION_BOUND_SECONDS + 60) * 1000,
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/** Waiting for keepalived to elect a holder: a poll, retried every few seconds for up to about a minute. */
const poll = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 1, maximumAttempts: 30 },
});

/**
 * `kk init registry` (docker-registry): precheck → one child workflow per registry host → HA assembly (keepalived
 * behind the VIP) → a push through the endpoint and a pull on every node.
 */
export async function initRegistryWorkflow(input: InitRegistryInput): Promise<InitRegistryReport> {
  const runId = workflowInfo().workflowId;
  const { fixedHosts, ...precheck } = await executeChild(precheckWorkflow, { workflowId: `${runId}/precheck`, args: [input.precheck, { withFixedHosts: true }] });
  // A host whose probe parked and was fixed (a new password, key or address) is reached the fixed way from here on.
  if (fixedHosts) input = { ...input, nodes: input.nodes.map((n) => (fixedHosts[n.host.name] ? { ...n, host: fixedHosts[n.host.name]! } : n)) };
  if (!precheck.ok) {
    const failed = precheck.checks.filter((c) => c.status === 'fail');
    throw ApplicationFailure.create({
      type: 'PrecheckFailed',
      message: `precheck failed, nothing was changed: ${failed.map((c) => `${c.host ?? 'config'} ${c.check}: ${c.message}`).join('; ')}`,
      nonRetryable: true,
      details: [precheck],
    });
  }

  // Artifacts given as URLs are fetched into binary_dir once, before any host changes.
  const needs = precheck.arches.flatMap((arch) => input.precheck.artifactsByArch[arch] ?? []).filter((n) => n.url);
  if (needs.length) await install.fetchArtifacts(needs);

  // Each node finishes or fails on its own: one bad node does not cancel the others' work, and the report says which.
  const settled = await Promise.allSettled(input.nodes.map((node) => executeChild(registryNodeWorkflow, { workflowId: nodeWorkflowId(node.host.name), args: [node] })));
  rethrowCancellation(settled);
  const failedNodes = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ host: input.nodes[i]!.host.name, ...rootCause(r.reason) }] : []));
  if (failedNodes.length) {
    throw ApplicationFailure.create({
      type: 'NodesFailed',
      message: failedNodes.map((f) => `${f.host}: ${f.type}: ${f.message}`).join('; '),
      nonRetryable: true,
      details: [{ failed: failedNodes, done: settled.flatMap((r) => (r.status === 'fulfilled' ? [withoutFixedInput(r.value)] : [])) }],
    });
  }
  const results = settled.map((r) => (r as PromiseFulfilledResult<RegistryNodeResult>).value);
  // A node fixed while parked (a new password, key, address, artifact path or registry password) is used as fixed by
  // every later step too; its input stays out of the report, which the CLI prints.
  input = { ...input, nodes: input.nodes.map((n, i) => results[i]!.fixedInput ?? n) };
  const nodes = results.map(withoutFixedInput);

  let ha: InitRegistryReport['ha'];
  let noHa: InitRegistryReport['keepalivedRemoved'];
  if (input.ha) {
    setPhase('ha');
    const ha_ = input.ha;
    const steps: Record<string, Record<string, string>> = {};
    const decommissioned = await decommissionLeavers(input);
    // Each host's keepalived in a child of its own (`<run>/ha/<host>`), so a host whose keepalived cannot be deployed
    // parks for a fix like its node steps, while the others' go on.
    await Promise.all(
      input.nodes.map(async (node, i) => {
        const result = nodes[i]!;
        const self = ha_.members.find((m) => m.name === node.host.name)!;
        const scheme = node.plainHttp ? 'http' : 'https';
        const settings: KeepalivedSettings = {
          version: ha_.keepalivedVersion,
          vip: ha_.vip,
          prefix: result.vipInterface!.prefix,
          interface: result.vipInterface!.name,
          self,
          peers: ha_.members.filter((m) => m.name !== self.name),
          priority: 150 - 10 * ha_.members.indexOf(self),
          virtualRouterId: ha_.virtualRouterId,
          authPass: ha_.authPass,
          healthUrl: `${scheme}://127.0.0.1:${node.port}${nodePaths(node).healthPath}`,
        };
        const done = await executeChild(keepalivedNodeWorkflow, {
          workflowId: haWorkflowIdOf(runId, node.host.name),
          args: [{ host: node.host, settings, caCert: node.pki.caCert, imageTarball: node.artifacts[result.arch]!.keepalivedImage! }],
        });
        steps[node.host.name] = done.steps;
        if (done.fixedHost) input = { ...input, nodes: input.nodes.map((n) => (n.host.name === done.fixedHost!.name ? { ...n, host: done.fixedHost! } : n)) };
      }),
    );
    const vipHolder = await poll.findVipHolder(input.nodes.map((n) => n.host), ha_.vip);
    // Every node reaches the registry through the VIP before the run says it is ready.
    await Promise.all(
      input.nodes.map((n) => {
        const host = ha_.vip.includes(':') ? `[${ha_.vip}]` : ha_.vip;
        const url = `${n.plainHttp ? 'http' : 'https'}://${host}:${n.port}${nodePaths(n).healthPath}`;
        return install.waitVipServes(n.host, ha_.vip, url, nodePaths(n).caPath);
      }),
    );
    ha = { vipHolder, steps, ...decommissioned };
  } else {
    const decommissioned = await decommissionLeavers(input);
    if (decommissioned.removed || decommissioned.unreachableLeavers) noHa = decommissioned;
  }
  const harborNodes = input.nodes.filter((n): n is HarborNodeInput => n.type === 'harbor');
  const { replication, meshLeavers } = harborNodes.length ? await harborMesh(input, harborNodes) : {};

  // The machine running kk trusts the CA too, when it is in the inventory without being a registry host.
  if (input.localTrust) await install.trustRegistryCa(input.localTrust, input.nodes[0]!.trustNames, input.nodes[0]!.pki.caCert);

  // Harbor takes pushes only into a project that exists: the probe's, private, on every node (the VIP may move).
  await Promise.all(harborNodes.map((n) => install.ensureHarborProject(n, VERIFY_PROJECT)));
  setPhase('verify');
  const credentials = input.nodes[0]!.credentials;
  const { image, digest } = await install.pushProbe(input.nodes[0]!.host, input.endpoint, credentials);
  // In Harbor HA each node has its own storage: this push's manifest (by digest: the tag is the same every run, so
  // earlier probes would satisfy it) must reach every node's own Harbor through replication, within a fixed bound.
  const bound = { deadline: Date.now() + REPLICATION_BOUND_SECONDS * 1000, seconds: REPLICATION_BOUND_SECONDS };
  const [, replicatedTo] = await Promise.all([
    Promise.all(input.nodes.map((n) => install.pullProbe(n.host, image, credentials))),
    replication ? Promise.all(harborNodes.map(async (n) => (await replicationWait.waitHarborArtifact(n, VERIFY_REPOSITORY, digest, bound), n.host.name))) : undefined,
  ]);
  return {
    endpoint: input.endpoint,
    precheck,
    nodes,
    ha,
    ...(noHa && { keepalivedRemoved: noHa }),
    replication,
    meshLeavers,
    verification: { image, digest, pushedFrom: input.nodes[0]!.host.name, pulledOn: input.nodes.map((n) => n.host.name), replicatedTo },
  };
}

type MeshReport = Pick<InitRegistryReport, 'replication' | 'meshLeavers'>;

/**
 * Harbor: nodes named by a node's kk endpoints that are no longer registry hosts leave the mesh first (their own
 * endpoints, policies and robot go, so they stop pushing into the others). With two or more nodes, every node gets the
 * replication robot, then endpoints and event-based push policies to every peer (reconciled by name, so re-runs
 * create nothing and leavers' objects go; an endpoint whose description names another credential fingerprint than the
 * secret kk keeps is rewritten with it), then one manual run of each policy so what any node held before reaches all.
 */
async function harborMesh(input: InitRegistryInput, nodes: HarborNodeInput[]): Promise<MeshReport> {
  const current = new Set(nodes.map((n) => n.host.name));
  const named = (await Promise.all(nodes.map((n) => install.readMeshPeers(n)))).flat();
  const leavers = [...new Set(named.map((p) => p.name))].filter((p) => !current.has(p)).sort();
  if (nodes.length < 2 && !leavers.length) return {};

  const [robots, meshLeavers] = await Promise.all([
    nodes.length > 1 ? Promise.all(nodes.map((n) => install.ensureReplicationRobot(n))) : Promise.resolve([] as string[]),
    leavers.length ? leaveMesh(input, nodes[0]!, leavers, named) : Promise.resolve(undefined),
  ]);
  const meshes = await Promise.all(
    nodes.map((n) =>
      install.reconcileReplicationMesh(
        n,
        nodes.filter((p) => p !== n).map((p) => ({ name: p.host.name, address: p.address })),
      ),
    ),
  );
  if (nodes.length < 2) return { meshLeavers };
  const backfills = await Promise.all(nodes.map((n) => install.backfillReplication(n)));
  return { replication: Object.fromEntries(nodes.map((n, i) => [n.host.name, { robot: robots[i]!, mesh: meshes[i]!, backfill: backfills[i]! }])), meshLeavers };
}

/**
 * Hosts that left the Harbor mesh: each one the inventory still has at the address its endpoints point at is reached
 * with a remaining node's settings (the same versions, ports and admin password) and cleared, before the remaining
 * nodes drop their endpoints to it (so a run that cannot clear it fails with the cause and the next run finds it
 * again); one the inventory lacks is named in a warning, because it goes on pushing into the remaining nodes, and so
 * is one whose name the inventory gives another address (a reused name): kk clears no Harbor its endpoints did not
 * point at.
 */
async function leaveMesh(input: InitRegistryInput, template: HarborNodeInput, leavers: string[], named: MeshPeerRef[]): Promise<NonNullable<InitRegistryReport['meshLeavers']>> {
  const cleared: Record<string, string[]> = {};
  const unreachable: string[] = [];
  const mismatched: string[] = [];
  await Promise.all(
    leavers.map(async (name) => {
      const host = input.precheck.hosts.find((h) => h.name === name);
      if (!host) {
        unreachable.push(name);
        return;
      }
      const match = leaverMatches(named, name, [hostAddress(host), host.address]);
      if (!match.ok) {
        mismatched.push(`${name}: the kk endpoints point at ${match.mismatched.join(', ')}, the inventory's ${name} is at ${hostAddress(host)}`);
        return;
      }
      try {
        cleared[name] = await install.leaveReplicationMesh({ ...template, host, address: hostAddress(host) });
      } catch (err) {
        if (isCancellation(err)) throw err;
        const cause = rootCause(err);
        throw ApplicationFailure.create({
          type: cause.type,
          message: `${name} left image_registry, but its own replication (kk-push-to-* policies into the remaining nodes) could not be removed: ${cause.message}; fix that and run again, or take ${name} out of the inventory to go on with a warning`,
          nonRetryable: true,
        });
      }
    }),
  );
  return { cleared, ...(unreachable.length && { unreachable: unreachable.sort() }), ...(mismatched.length && { mismatched: mismatched.sort() }) };
}

/**
 * Hosts that were in the keepalived group (as the registry hosts' deployed configs say) and are not in it now: their
 * keepalived is removed when the inventory still reaches them; otherwise the report names them, because their
 * keepalived would go on claiming the VIP beside the group. Without HA (ha_vip dropped) the group is empty: every
 * former member goes, the registry hosts themselves included, so no host keeps holding the old VIP.
 */
async function decommissionLeavers(input: InitRegistryInput): Promise<{ removed?: string[]; unreachableLeavers?: string[] }> {
  const current = new Set(input.ha?.members.map((m) => m.address) ?? []);
  const seen = await Promise.all(input.nodes.map((n) => install.readKeepalivedMembers(n.host)));
  const leavers = [...new Set(seen.flat())].filter((a) => !current.has(a));
  const targets = new Map<string, HostTarget>();
  const unreachableLeavers: string[] = [];
  for (const address of leavers) {
    const host = input.precheck.hosts.find((h) => hostAddress(h) === address || h.address === address);
    if (host) targets.set(host.name, host);
    else unreachableLeavers.push(address);
  }
  // A registry host's own keepalived goes too when there is no group, even if its config named no address we know.
  if (!input.ha) for (const n of input.nodes) if (!targets.has(n.host.name)) targets.set(n.host.name, n.host);
  const removed: string[] = [];
  for (const host of targets.values()) if ((await install.removeKeepalived(host)) === 'removed') removed.push(host.name);
  return { ...(removed.length && { removed }), ...(unreachableLeavers.length && { unreachableLeavers }) };
}

/** One registry host's keepalived (HA). Parks when it fails for good; a fix may change how the host is reached. */
export async function keepalivedNodeWorkflow(input: { host: HostTarget; settings: KeepalivedSettings; caCert: string; imageTarball: string }): Promise<{ steps: Record<string, string>; fixedHost?: HostTarget }> {
  let host = input.host;
  const parking = new Parking(
    host.name,
    (fix) => (host = fix.node?.host ?? fix.host ?? host),
    (fix) => {
      const next = fix.node?.host ?? fix.host;
      if (next && next.name !== input.host.name) throw new Error(`refused for ${input.host.name}: the fix is for ${next.name}`);
    },
  );
  const steps = await parking.step('deployKeepalived', () => install.deployKeepalived(host, input.settings, input.caCert, input.imageTarball));
  return { steps, ...(host !== input.host && { fixedHost: host }) };
}

/** One registry host: docker, docker-compose, CA trust, the registry itself, then its health gate. */
export async function registryNodeWorkflow(input: RegistryNodeInput): Promise<RegistryNodeResult> {
  // The node as the latest fix left it (a corrected password, address or artifact path); every step reads it afresh.
  let node = input;
  const parking = new Parking(
    input.host.name,
    (fix) => (node = fix.node ?? (fix.host ? { ...node, host: fix.host } : node)),
    (fix) => refuseInstalledChanges(input, fix),
  );
  const facts = await parking.step('gatherFacts', () => probe.gatherFacts(node.host));
  if (!facts.arch) throw ApplicationFailure.nonRetryable(`${input.host.name}: unsupported architecture ${facts.machine}`, 'InvalidInput');
  const arch = facts.arch;
  const steps: Record<string, string> = {};
  steps.docker = await parking.step('installDocker', () => install.installDocker(node, arch));
  steps.compose = await parking.step('installCompose', () => install.installCompose(node, arch));
  steps.trust = await parking.step('trustRegistryCa', () => install.trustRegistryCa(node.host, node.trustNames, node.pki.caCert));
  for (const [k, v] of Object.entries(await parking.step('deployRegistry', () => install.deployRegistry(node, arch)))) steps[`registry.${k}`] = v;
  steps.health = await parking.step('waitRegistryHealthy', () => install.waitRegistryHealthy(node));
  let vipInterface: RegistryNodeResult['vipInterface'];
  if (input.vip) {
    const found = interfaceFor(facts.interfaces, input.vip);
    if (!found) throw ApplicationFailure.nonRetryable(`${input.host.name}: no interface's subnet holds ${input.vip}`, 'InvalidInput');
    vipInterface = { name: found.name, prefix: Number(found.cidr.split('/')[1]) };
  }
  return { host: input.host.name, arch, steps, vipInterface, ...(node !== input && { fixedInput: node }) };
}

/** A node's result as reported: without the input a fix left (it holds connection secrets). */
function withoutFixedInput({ fixedInput: _, ...result }: RegistryNodeResult): RegistryNodeResult {
  return result;
}
