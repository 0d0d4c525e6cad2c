import type { CreateClusterReport, DeleteRegistryReport } from '../registry/cluster-types';
import type { InitRegistryReport } from '../registry/types';

const ACTION: Record<CreateClusterReport['registry']['action'], string> = {
  installed: 'not found on the registry hosts: installed as kk init registry does',
  converged: "kk's install found with other inputs (or not healthy): converged as kk init registry does",
  kept: "kk's install found, healthy, with the same inputs: nothing to do",
  foreign: 'another installer\'s registry found and answering the endpoint: used as it is, not touched',
};

/** `kk create cluster`: what was found and done for the registry, then each k8s_cluster host; says what it does not do. */
export function createClusterSummary(report: CreateClusterReport, output: 'text' | 'json', initSummary: (r: InitRegistryReport, o: 'text') => number): number {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w('kk create cluster: the registry phase of cluster creation (this tool does not bootstrap Kubernetes)');
  for (const [host, f] of Object.entries(report.registry.found)) {
    w(`  ${host.padEnd(18)} ${f.kind === 'ours' ? `kk's ${f.type} ${f.version}${f.healthy ? ', healthy' : ', not answering'}` : f.kind === 'foreign' ? f.found.join('; ') : 'no registry'}`);
  }
  w(`registry: ${ACTION[report.registry.action]}${report.registry.trustedBy ? ` (answers with ${report.registry.trustedBy === 'ca' ? "kk's CA" : 'the configured credentials'})` : ''}`);
  if (report.registry.install) initSummary(report.registry.install, 'text');
  if (Object.keys(report.hostsFile).length) w(`/etc/hosts: ${Object.entries(report.hostsFile).map(([h, s]) => `${h} ${s}`).join(', ')}`);
  w('k8s_cluster hosts:');
  for (const n of report.nodes) {
    w(`  ${n.host.padEnd(18)} ${n.runtime}; ${Object.entries(n.steps).map(([k, v]) => `${k} ${v}`).join(', ') || 'nothing to configure'}; pulled with ${n.pulledWith}`);
  }
  w(`verified: pushed ${report.verification.image} from ${report.verification.pushedFrom}, pulled on ${report.nodes.map((n) => n.host).join(', ') || 'no k8s_cluster host'}`);
  w(`registry ready at ${report.endpoint} for the cluster's nodes`);
  return 0;
}

export function deleteRegistrySummary(report: DeleteRegistryReport, output: 'text' | 'json'): number {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  for (const n of report.nodes) {
    process.stdout.write(`${n.host}\n`);
    const entries = Object.entries(n.steps);
    for (const [step, what] of entries) process.stdout.write(`  ${step.padEnd(18)} ${what}\n`);
  }
  process.stdout.write(`registry deleted${report.withData ? `, data deleted (${report.dataPaths.join(', ')})` : `; data kept (${report.dataPaths.join(', ')}; --with-data deletes it)`}${report.all ? '; Docker kk installed removed where nothing else needs it' : ''}\n`);
  return 0;
}
