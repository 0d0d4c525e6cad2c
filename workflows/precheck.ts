import { proxyActivities, startChild } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ProbeSpec } from '../activities/precheck/probe';
import { hostAddress, type HostTarget } from '../config/hosts';
import { artifactChecks, configChecks, hostChecks, report, unreachableChecks, vipHeldByKk } from '../precheck/evaluate';
import type { CheckResult, HostProbe, PrecheckInput, PrecheckReport } from '../precheck/types';
import { nodeWorkflowId } from './facts';
import { rethrowCancellation, rootCause } from './failures';
import { Parking } from './park';
import { setPhase } from './interceptors';

/** Precheck reports an unreachable host after a few tries rather than waiting for it. */
const precheckStep = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
});

/**
 * What a host probes: only the paths the registry needs. Registry hosts reach each other's registry ports (required:
 * HA health checks, replication); other hosts reach the registry hosts' ports (a warning: clients come later). SSH
 * between hosts is never needed (segmented networks allow it only from a bastion), so it is not probed.
 */
function probeSpecFor(input: PrecheckInput, host: HostTarget): ProbeSpec {
  const isRegistry = input.registryHosts.includes(host.name);
  const peers = input.hosts
    .filter((h) => h.name !== host.name && !(h.local && !h.internalIPv4) && input.registryHosts.includes(h.name))
    .flatMap((h) => input.registryPorts.map((port) => ({ address: hostAddress(h), port, required: isRegistry })));
  // Every host says whether it holds the VIP with kk's keepalived: a member leaving the group (HA shrink) often does.
  const vip = input.haVip ? (isRegistry ? { vip: input.haVip } : { vipHolder: input.haVip }) : {};
  return { peers, registryPorts: isRegistry ? input.registryPorts : [], ...vip, s3: isRegistry ? input.s3 : undefined };
}

/**
 * `kk precheck image_registry`: the configuration's checks, then every host probed in parallel (one child workflow
 * per host), then the artifacts for every arch found. Reads only: nothing on any host changes.
 */
export async function precheckWorkflow(input: PrecheckInput, options: { withFixedHosts?: boolean } = {}): Promise<PrecheckReport & { fixedHosts?: Record<string, HostTarget> }> {
  setPhase('probe-hosts');
  const checks: CheckResult[] = configChecks(input);
  const children = await Promise.all(
    input.hosts.map((host) => startChild(hostProbeWorkflow, { workflowId: nodeWorkflowId(host.name), args: [host, probeSpecFor(input, host)] })),
  );
  const probes = await Promise.allSettled(children.map((c) => c.result()));
  rethrowCancellation(probes);
  const ok = probes.map((p) => (p.status === 'fulfilled' ? p.value : undefined));
  const vipHeldByOurKeepalived = vipHeldByKk(ok);
  probes.forEach((p, i) => {
    const host = input.hosts[i]!.name;
    checks.push(...(p.status === 'fulfilled' ? hostChecks(input, host, p.value, vipHeldByOurKeepalived) : unreachableChecks(host, rootCause(p.reason))));
  });

  // Artifacts for every arch among the registry hosts that answered (amd64 when none did, to still name the files).
  const arches = [...new Set(ok.filter((p, i) => p && input.registryHosts.includes(input.hosts[i]!.name)).map((p) => p!.facts.arch).filter((a): a is 'amd64' | 'arm64' => a !== null))];
  const wanted = arches.length ? arches : ['amd64'];
  setPhase('check-artifacts');
  const statuses = await precheckStep.checkArtifacts(wanted.flatMap((a) => input.artifactsByArch[a] ?? []));
  const errors = Object.fromEntries(Object.entries(input.artifactErrors).filter(([k]) => wanted.some((a) => k.endsWith(` ${a}`))));
  checks.push(...artifactChecks(statuses, errors));
  // An install goes on with the connection data a parked probe was fixed with; a precheck alone prints its report,
  // which must not hold them.
  const fixedHosts = Object.fromEntries(ok.flatMap((p) => (p?.fixedHost ? [[p.fixedHost.name, p.fixedHost] as const] : [])));
  return { ...report(checks, wanted), ...(options.withFixedHosts && Object.keys(fixedHosts).length > 0 && { fixedHosts }) };
}

/**
 * One host's probe. A host that cannot be probed at all (wrong password or key, changed host key, sudo refused,
 * unreachable after a few tries) parks until `kk resume -i` brings corrected connection data; a check that runs and
 * fails is a verdict, not a park.
 */
export async function hostProbeWorkflow(host: HostTarget, spec: ProbeSpec): Promise<HostProbe & { fixedHost?: HostTarget }> {
  let target = host;
  const parking = new Parking(
    host.name,
    (fix) => (target = fix.host ?? fix.node?.host ?? target),
    (fix) => {
      const next = fix.host ?? fix.node?.host;
      if (next && next.name !== host.name) throw new Error(`refused for ${host.name}: the fix is for ${next.name}`);
    },
  );
  const probe = await parking.step('probeHost', () => precheckStep.probeHost(target, spec));
  return target === host ? probe : { ...probe, fixedHost: target };
}
