import { ApplicationFailure, executeChild, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RegistryFound } from '../registry/detect';
import type { ClusterNodeInput, ClusterNodeResult, CreateClusterInput, CreateClusterReport, RegistryAction } from '../registry/cluster-types';
import { nodePaths } from '../registry/node-paths';
import type { HarborNodeInput } from '../registry/types';
import { VERIFY_PROJECT } from '../registry/verify';
import { nodeWorkflowId } from './facts';
import { rethrowCancellation, rootCause } from './failures';
import { initRegistryWorkflow } from './init-registry';
import { setPhase } from './interceptors';
import { Parking } from './park';
import { probe } from './proxies';

/** Steps that change a host (Docker, containerd, trust, the probe push and pulls): as init registry's install steps. */
const install = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * `kk create cluster`, the registry phase only (this tool does not bootstrap Kubernetes): detect what each registry host
 * runs; another installer's registry is used as it is when it answers the endpoint with kk's CA or the configured
 * credentials, else the run stops before any change; kk's own, healthy and converged with the same input, is kept;
 * otherwise `kk init registry`'s workflow runs as it is (its precheck, its `<run>/node/<host>` children, HA, its
 * verification). Then every k8s_cluster host is made able to pull (`<run>/node/<host>` children again, once the
 * registry's have closed) and pulls a fresh probe with the tool it has.
 */
export async function createClusterWorkflow(input: CreateClusterInput): Promise<CreateClusterReport> {
  const reg = input.registry;
  const first = reg.nodes[0]!;
  setPhase('detect');
  const found: RegistryFound[] = await Promise.all(
    reg.nodes.map((n) => probe.detectRegistry(n.host, { url: `${n.plainHttp ? 'http' : 'https'}://127.0.0.1:${n.port}${nodePaths(n).healthPath}`, caPath: nodePaths(n).caPath })),
  );
  const foundBy = Object.fromEntries(reg.nodes.map((n, i) => [n.host.name, found[i]!]));
  const url = `${input.scheme}://${reg.endpoint}/v2/`;

  let action: RegistryAction;
  let trustedBy: CreateClusterReport['registry']['trustedBy'];
  const foreign = reg.nodes.filter((_, i) => found[i]!.kind === 'foreign');
  if (foreign.length) {
    // Another installer's registry is never touched: used when it answers the endpoint the way kk's clients need.
    // Each host is asked as the endpoint (its name pinned to the host's address): the answer must be that host's.
    const [name, port] = endpointNamePort(reg.endpoint, input.scheme);
    const answers = await Promise.all(foreign.map((n) => probe.checkForeignEndpoint(n.host, url, `${name}:${port}:${n.address}`, first.pki.caCert, first.credentials)));
    const what = foreign.map((n) => `${n.host.name}: ${(foundBy[n.host.name] as { found: string[] }).found.join('; ')}`).join('; ');
    if (foreign.length !== reg.nodes.length || answers.some((a) => !a)) {
      throw ApplicationFailure.create({
        type: 'ForeignRegistry',
        nonRetryable: true,
        message:
          `found a registry kk did not install (${what}); ${foreign.length !== reg.nodes.length ? 'beside hosts that do not run it' : `it does not answer ${url} with kk's CA or the configured credentials`}. ` +
          `kk does not take over another installer's registry and changed nothing: remove it, or point image_registry.auth (registry, username, password) at it`,
      });
    }
    action = 'foreign';
    trustedBy = answers.every((a) => a === 'ca') ? 'ca' : 'credentials';
  } else {
    const kept = reg.nodes.every((n, i) => {
      const f = found[i]!;
      return f.kind === 'ours' && f.type === n.type && f.version === n.versions.registry && f.healthy && f.fingerprint === input.fingerprints[n.host.name];
    });
    action = kept ? 'kept' : found.every((f) => f.kind === 'missing') ? 'installed' : 'converged';
  }

  // The registry's name resolves on every host (registry hosts too: init's verification pushes through it).
  setPhase('hosts-file');
  const hostsFile: Record<string, string> = {};
  if (input.hostsEntries.length) {
    const every = [...new Map([...reg.nodes.map((n) => n.host), ...input.clusterHosts].map((h) => [h.name, h])).values()];
    await Promise.all(every.map(async (h) => (hostsFile[h.name] = await install.writeHostsBlock(h, input.hostsEntries))));
  }

  let installReport: CreateClusterReport['registry']['install'];
  if (action === 'installed' || action === 'converged') {
    installReport = await initRegistryWorkflow(reg);
    await Promise.all(reg.nodes.map((n) => install.recordRegistryInput(n.host, input.fingerprints[n.host.name]!)));
  }

  // Another installer's registry that answers with kk's CA: its hosts' Docker (a client, not the registry) trusts the
  // CA too, so the probe can be pushed from the first of them.
  if (action === 'foreign' && trustedBy === 'ca') await Promise.all(reg.nodes.map((n) => install.trustRegistryCa(n.host, n.trustNames, n.pki.caCert)));

  // A fresh probe through the endpoint, so every pull below really comes from the registry.
  setPhase('verify');
  const harbor = action === 'foreign' ? [] : reg.nodes.filter((n): n is HarborNodeInput => n.type === 'harbor');
  await Promise.all(harbor.map((n) => install.ensureHarborProject(n, VERIFY_PROJECT)));
  const { image } = await install.pushProbe(first.host, reg.endpoint, first.credentials);

  setPhase('cluster-nodes');
  const nodeInputs: ClusterNodeInput[] = input.clusterHosts.map((host) => ({
    host,
    dockerTemplate: { ...first, host },
    endpoint: reg.endpoint,
    scheme: input.scheme,
    trustNames: first.trustNames,
    caCert: trustedBy === 'credentials' ? undefined : first.pki.caCert,
    image,
    credentials: first.credentials,
  }));
  const settled = await Promise.allSettled(nodeInputs.map((n) => executeChild(clusterNodeWorkflow, { workflowId: nodeWorkflowId(n.host.name), args: [n] })));
  rethrowCancellation(settled);
  const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ host: nodeInputs[i]!.host.name, ...rootCause(r.reason) }] : []));
  if (failed.length) {
    throw ApplicationFailure.create({ type: 'NodesFailed', nonRetryable: true, message: failed.map((f) => `${f.host}: ${f.type}: ${f.message}`).join('; ') });
  }
  return {
    endpoint: reg.endpoint,
    registry: { action, found: foundBy, ...(installReport && { install: installReport }), ...(trustedBy && { trustedBy }) },
    hostsFile,
    nodes: settled.map((r) => (r as PromiseFulfilledResult<ClusterNodeResult>).value),
    verification: { image, pushedFrom: first.host.name },
  };
}

/** `host[:port]` (IPv6 in brackets) as name and port, the scheme's port when none is given. */
function endpointNamePort(endpoint: string, scheme: 'http' | 'https'): [string, number] {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(endpoint);
  return [m?.[1] ?? endpoint, m?.[2] ? Number(m[2]) : scheme === 'https' ? 443 : 80];
}

/**
 * One k8s_cluster host: its runtime detected (none: Docker installed with init's own step, as KubeKey's create cluster
 * installs a runtime), kk's CA where Docker reads it, hosts.toml (and config_path) where containerd is the runtime,
 * then the probe pulled with docker or ctr. A step that fails for good parks the host, as in init.
 */
export async function clusterNodeWorkflow(input: ClusterNodeInput): Promise<ClusterNodeResult> {
  let node = input;
  const parking = new Parking(input.host.name, (fix) => (node = fix.host ? { ...node, host: fix.host, dockerTemplate: { ...node.dockerTemplate, host: fix.host } } : node));
  const steps: Record<string, string> = {};
  let runtime = await parking.step('detectRuntime', () => probe.detectRuntime(node.host));
  const arch = async () => {
    const facts = await parking.step('gatherFacts', () => probe.gatherFacts(node.host));
    if (!facts.arch) throw ApplicationFailure.nonRetryable(`${input.host.name}: unsupported architecture ${facts.machine}`, 'InvalidInput');
    return facts.arch;
  };
  if (!runtime.docker && !runtime.containerd) {
    const a = await arch();
    steps.docker = await parking.step('installDocker', () => install.installDocker(node.dockerTemplate, a));
    runtime = await parking.step('detectRuntime', () => probe.detectRuntime(node.host));
  } else if (runtime.docker && node.scheme === 'http') {
    // plain HTTP: Docker must list the registry as insecure; a Docker kk did not install only gets daemon.json merged.
    const a = await arch();
    steps.docker = await parking.step('installDocker', () => install.installDocker(node.dockerTemplate, a));
  }
  if (runtime.docker && node.caCert) steps.dockerTrust = await parking.step('trustRegistryCa', () => install.trustRegistryCa(node.host, node.trustNames, node.caCert!));
  if (runtime.containerd) steps.containerd = await parking.step('configureContainerd', () => install.configureContainerd(node.host, node.endpoint, node.scheme, node.caCert));
  let pulledWith: ClusterNodeResult['pulledWith'];
  if (runtime.docker) {
    await parking.step('pullProbe', () => install.pullProbe(node.host, node.image, node.credentials));
    pulledWith = 'docker';
  } else {
    await parking.step('ctrPull', () => install.ctrPull(node.host, node.image, node.endpoint, node.scheme, node.credentials));
    pulledWith = 'ctr';
  }
  const runtimeName = [runtime.docker && `docker ${runtime.docker.version}${runtime.docker.byKk ? ' (kk)' : ''}`, runtime.containerd && 'containerd'].filter(Boolean).join(' + ');
  return { host: input.host.name, runtime: runtimeName, steps, pulledWith };
}
