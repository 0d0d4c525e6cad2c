import type { PrecheckReport } from '../precheck/types';
import type { InitRegistryReport } from '../registry/types';
import type { FactsReport } from '../workflows/facts';
import type { PushImagesReport } from '../registry/images/types';
import { pushImagesSummary } from './images-summary';
import type { CreateClusterReport, DeleteRegistryReport } from '../registry/cluster-types';
import { createClusterSummary, deleteRegistrySummary } from './cluster-summaries';

/** How each kind of run reports its result; returns the exit code. */
export function summarize(workflowType: string, result: unknown, output: 'text' | 'json'): number {
  switch (workflowType) {
    case 'factsWorkflow':
      return factsSummary(result as FactsReport, output);
    case 'precheckWorkflow':
      return precheckSummary(result as PrecheckReport, output);
    case 'initRegistryWorkflow':
      return initRegistrySummary(result as InitRegistryReport, output);
    case 'pushImagesWorkflow':
      return pushImagesSummary(result as PushImagesReport, output);
    case 'createClusterWorkflow':
      return createClusterSummary(result as CreateClusterReport, output, initRegistrySummary);
    case 'deleteRegistryWorkflow':
      return deleteRegistrySummary(result as DeleteRegistryReport, output);
    default:
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
  }
}

function factsSummary(report: FactsReport, output: 'text' | 'json'): number {
  const failed = report.hosts.filter((h) => h.error);
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return failed.length ? 1 : 0;
  }
  for (const { host, facts, error } of report.hosts) {
    if (!facts) {
      process.stdout.write(`${host}: FAILED ${error?.type}: ${error?.message}\n\n`);
      continue;
    }
    const lines = [
      `${host}: ${facts.os.prettyName} (${facts.os.family}), ${facts.arch ?? `unsupported arch ${facts.machine}`}, kernel ${facts.kernel}, ${facts.cpus} CPUs, ${facts.memoryMb} MB memory, hostname ${facts.hostname}`,
      `  filesystems: ${facts.filesystems.filter((f) => !/^(tmpfs|devtmpfs|overlay|squashfs)$/.test(f.fsType) || f.mount === '/').map((f) => `${f.mount} ${f.fsType} ${f.freeMb}/${f.sizeMb} MB free`).join('; ')}`,
      `  interfaces: ${facts.interfaces.map((i) => `${i.name} ${i.cidrs.join(' ')}`).join('; ')}`,
      `  docker: ${facts.docker ? `${facts.docker.version}${facts.docker.active ? ' (running)' : ' (stopped)'}` : 'not installed'}; docker-compose: ${facts.dockerCompose?.version ?? 'not installed'}`,
      `  harbor.service: ${facts.services.harbor ? 'present' : 'absent'}; docker-registry.service: ${facts.services.dockerRegistry ? 'present' : 'absent'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }
  process.stdout.write(`${report.hosts.length - failed.length} of ${report.hosts.length} hosts gathered${failed.length ? `, ${failed.length} failed` : ''}\n`);
  return failed.length ? 1 : 0;
}

const MARK = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** A table grouped by host (configuration-wide checks first), with a fix under each failure and warning. */
export function precheckSummary(report: PrecheckReport, output: 'text' | 'json'): number {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.ok ? 0 : 1;
  }
  const groups = new Map<string, typeof report.checks>();
  for (const c of report.checks) {
    const key = c.host ?? '(configuration)';
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const [host, checks] of groups) {
    process.stdout.write(`${host}\n`);
    for (const c of checks) {
      process.stdout.write(`  ${MARK[c.status]}  ${c.check.padEnd(13)} ${c.message}\n`);
      if (c.fix && c.status !== 'pass') process.stdout.write(`        ${''.padEnd(13)} fix: ${c.fix}\n`);
    }
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  process.stdout.write(`\n${failed ? `precheck FAILED: ${failed} failed` : 'precheck passed'}${warned ? `, ${warned} warning${warned > 1 ? 's' : ''}` : ''}\n`);
  return report.ok ? 0 : 1;
}

function initRegistrySummary(report: InitRegistryReport, output: 'text' | 'json'): number {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  for (const node of report.nodes) {
    process.stdout.write(`${node.host} (${node.arch})\n`);
    for (const [step, what] of Object.entries(node.steps)) process.stdout.write(`  ${step.padEnd(18)} ${what}\n`);
  }
  if (report.ha) {
    process.stdout.write(`keepalived: VIP held by ${report.ha.vipHolder}\n`);
    for (const [host, steps] of Object.entries(report.ha.steps)) process.stdout.write(`  ${host.padEnd(18)} ${Object.entries(steps).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    if (report.ha.removed?.length) process.stdout.write(`  keepalived removed from ${report.ha.removed.join(', ')} (no longer registry hosts)\n`);
    if (report.ha.unreachableLeavers?.length) process.stdout.write(`  warning: ${report.ha.unreachableLeavers.join(', ')} left the group but are not in the inventory: stop kk-keepalived.service there\n`);
  }
  if (report.keepalivedRemoved?.removed?.length) process.stdout.write(`keepalived removed from ${report.keepalivedRemoved.removed.join(', ')} (image_registry.ha_vip is not set)\n`);
  if (report.keepalivedRemoved?.unreachableLeavers?.length) process.stdout.write(`warning: ${report.keepalivedRemoved.unreachableLeavers.join(', ')} ran kk's keepalived but are not in the inventory: stop kk-keepalived.service there\n`);
  if (report.replication) {
    process.stdout.write('replication (Harbor):\n');
    for (const [host, r] of Object.entries(report.replication)) {
      const mesh = r.mesh.length ? r.mesh.join(', ') : 'mesh unchanged';
      process.stdout.write(`  ${host.padEnd(18)} robot ${r.robot}; ${mesh}${r.backfill.length ? `; backfilled ${r.backfill.join(', ')}` : ''}\n`);
    }
  }
  for (const [host, removed] of Object.entries(report.meshLeavers?.cleared ?? {})) process.stdout.write(`  ${host} left the mesh: ${removed.length ? removed.join(', ') : 'nothing of kk\'s left there'}\n`);
  if (report.meshLeavers?.unreachable?.length) {
    process.stdout.write(`  warning: ${report.meshLeavers.unreachable.join(', ')} left the mesh but are not in the inventory: delete the kk-push-to-* policies, kk-peer-* endpoints and robot$kk-replicator in their Harbor, or they go on pushing into the others\n`);
  }
  for (const m of report.meshLeavers?.mismatched ?? []) process.stdout.write(`  warning: ${m}: not cleared (a reused host name?); clear the kk-* replication objects of the Harbor the endpoints pointed at yourself\n`);
  const replicated = report.verification.replicatedTo ? `, present in ${report.verification.replicatedTo.join(', ')} through replication` : '';
  process.stdout.write(`verified: pushed ${report.verification.image} (${report.verification.digest}) from ${report.verification.pushedFrom}, pulled on ${report.verification.pulledOn.join(', ')}${replicated}\n`);
  process.stdout.write(`registry ready at ${report.endpoint}\n`);
  return 0;
}
