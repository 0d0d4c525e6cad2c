/**
 * Names and labels shared by the workflows, the CLI and the UI, with no import at all: the CLI loads this at start
 * (its commands load the Temporal SDK only when they need it).
 */
export const KK_ATTRIBUTE_NAMES = { registryType: 'KkRegistryType', hosts: 'KkHosts', phase: 'KkPhase' } as const;

/** Child workflow ids name the run and the host, so the UI lists `<run>/node/<host>` under each run. */
export function nodeWorkflowIdOf(runId: string, host: string): string {
  return `${runId}/node/${host}`;
}

/** An install's precheck probes each host in `<run>/precheck/node/<host>`. */
export function precheckNodeWorkflowIdOf(runId: string, host: string): string {
  return nodeWorkflowIdOf(`${runId}/precheck`, host);
}

/** An HA install deploys each host's keepalived in `<run>/ha/<host>`. */
export function haWorkflowIdOf(runId: string, host: string): string {
  return `${runId}/ha/${host}`;
}

/** The host a `<run>/node/<host>` id names, if it is one. */
export function hostOfNodeWorkflowId(workflowId: string): string | undefined {
  const i = workflowId.lastIndexOf('/node/');
  return i >= 0 ? workflowId.slice(i + '/node/'.length) : undefined;
}

/** What each activity does, as the UI's activity summary and the terminal's progress show it. */
export const STEP_LABELS: Record<string, string> = {
  gatherFacts: 'gather facts',
  probeHost: 'probe for precheck',
  checkArtifacts: 'check artifacts',
  fetchArtifacts: 'download artifacts',
  installDocker: 'install Docker',
  installCompose: 'install docker-compose',
  trustRegistryCa: "trust the registry's CA",
  deployRegistry: 'deploy the registry',
  waitRegistryHealthy: 'wait for the registry to answer',
  deployKeepalived: 'deploy keepalived',
  findVipHolder: 'find the VIP holder',
  waitVipServes: 'wait for the VIP to serve',
  readKeepalivedMembers: 'read keepalived members',
  removeKeepalived: 'remove keepalived',
  pushProbe: 'push a probe image',
  pullProbe: 'pull the probe image',
  pushImage: 'push image',
  ensureImageProjects: 'create Harbor projects',
};

export function stepLabel(activityType: string): string {
  return STEP_LABELS[activityType] ?? activityType.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

/** The host(s) an activity acts on, from its arguments: a HostTarget, a node input's `host`, or a list of hosts. */
export function hostsOfArgs(args: readonly unknown[]): string[] {
  const first = args[0] as { name?: unknown; host?: { name?: unknown } } | unknown[] | undefined;
  if (Array.isArray(first)) return first.flatMap((h) => (h && typeof (h as { name?: unknown }).name === 'string' && 'address' in (h as object) ? [(h as { name: string }).name] : []));
  if (first && typeof first === 'object') {
    if (typeof first.name === 'string' && 'address' in first) return [first.name];
    if (first.host && typeof first.host.name === 'string') return [first.host.name];
  }
  return [];
}

/** `install Docker on node1`: what the UI shows for a scheduled activity (names only; summaries are encrypted anyway). */
export function activitySummary(activityType: string, args: readonly unknown[]): string {
  // An image push names its image (`push image registry.k8s.io/pause:3.9`).
  const image = (args[1] as { source?: unknown } | undefined)?.source;
  if (activityType === 'pushImage' && typeof image === 'string') return `${stepLabel(activityType)} ${image}`;
  const hosts = hostsOfArgs(args);
  return hosts.length ? `${stepLabel(activityType)} on ${hosts.join(', ')}` : stepLabel(activityType);
}
