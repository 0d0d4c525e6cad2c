import * as fs from 'node:fs';
import * as path from 'node:path';
import { KnownHosts } from '../activities/ssh/known-hosts';
import type { LabFile } from '../lab/lab-file';
import type { LabNode } from '../lab/nodes';
import { labInventory, labSsh, labVersion } from '../test/support/lab';
import { workdirClient } from '../test/support/kk';
import { runBaseline } from './baseline';
import { analyzeRun, type RunAnalysis } from './history';
import { timedKk, type Timed } from './kk-run';
import { captureConfigs, freshNodes, sftpWritten } from './nodes';
import { LAB_KEY } from '../lab/paths';

export type RegistryType = 'docker-registry' | 'harbor';

/** What one bench run works with: the lab, a kk work dir, the padded binary_dir, a scratch dir. */
export interface BenchContext {
  labFile: LabFile;
  workdir: string;
  binaryDir: string;
  scratch: string;
  log(message: string): void;
}

export interface InstallMeasure {
  nodes: number;
  ms: number;
  cliPeakRss?: number;
  sftpBytes: number;
  analysis: RunAnalysis;
  /** Process spawn to workflow start, and workflow close to process exit (ms). */
  cliStartMs: number;
  cliExitMs: number;
}

const nodesOf = (ctx: BenchContext, n: number): LabNode[] => ctx.labFile.nodes.slice(0, n);

/** An inventory of exactly these registry nodes (precheck probes every inventory host). */
function inventory(ctx: BenchContext, type: RegistryType, nodes: LabNode[]): string {
  const hosts = Object.fromEntries(nodes.map((n) => [n.name, { connector: { host: n.address, private_key: LAB_KEY }, internal_ipv4: n.address }]));
  return labInventory(ctx.labFile, ctx.scratch, `bench-${type === 'harbor' ? 'hb' : 'dr'}-${nodes.length}`, nodes.map((n) => n.name), { hosts });
}

function installArgs(ctx: BenchContext, type: RegistryType, nodes: LabNode[]): string[] {
  const sets = [ctx.labFile.set[type], `binary_dir=${ctx.binaryDir}`];
  if (nodes.length > 1) {
    sets.push(`image_registry.ha_vip=${ctx.labFile.vip}`);
    if (type === 'docker-registry') {
      const s = ctx.labFile.s3!;
      sets.push(`image_registry.docker_registry.storage.s3=${JSON.stringify({ accesskey: s.accesskey, secretkey: s.secretkey, region: s.region, bucket: s.bucket, regionendpoint: s.endpoint })}`);
    }
  }
  return ['init', 'registry', '-i', inventory(ctx, type, nodes), '--workdir', ctx.workdir, '--output', 'json', ...sets.flatMap((s) => ['--set', s])];
}

async function measured(ctx: BenchContext, what: string, nodes: LabNode[], run: Timed): Promise<InstallMeasure> {
  if (run.code !== 0 || !run.runId) throw new Error(`${what}: kk exited ${run.code}\n${run.stderr.slice(-3000)}`);
  const client = await workdirClient(ctx.workdir);
  try {
    const analysis = await analyzeRun(client, run.runId);
    const sftp = await sftpWritten(ctx.labFile, nodes, run.spawnedAt - 1000);
    ctx.log(`${what}: ${(run.ms / 1000).toFixed(1)} s, ${sftp.total} bytes over SFTP`);
    return {
      nodes: nodes.length,
      ms: run.ms,
      cliPeakRss: run.cliPeakRss,
      sftpBytes: sftp.total,
      analysis,
      cliStartMs: analysis.workflowStart - run.spawnedAt,
      cliExitMs: run.exitedAt - analysis.workflowEnd,
    };
  } finally {
    await client.connection.close();
  }
}

/** A first install on fresh nodes, its no-op re-run, then the baseline on fresh nodes again. */
export async function installCase(ctx: BenchContext, type: RegistryType, count: number, options: { rerun: boolean; baseline: boolean }): Promise<{ first: InstallMeasure; rerun?: InstallMeasure; baseline?: { ms: number; uploadMs: number } }> {
  const nodes = nodesOf(ctx, count);
  await freshNodes(ctx.labFile, nodes, ctx.workdir);
  const args = installArgs(ctx, type, nodes);
  const first = await measured(ctx, `${type} on ${count} node(s), first install`, nodes, await timedKk(args));
  const rerun = options.rerun ? await measured(ctx, `${type} on ${count} node(s), re-run`, nodes, await timedKk(args)) : undefined;
  if (!options.baseline) return { first, rerun };
  const configs = new Map(await Promise.all(nodes.map(async (n) => [n.name, await captureConfigs(ctx.labFile, n.name)] as const)));
  await freshNodes(ctx.labFile, nodes, ctx.workdir);
  const files = baselineFiles(ctx, type, count > 1);
  const baseline = await runBaseline({ type, nodes, files, configs, harborVersion: labVersion(ctx.labFile, 'harbor_version'), vip: count > 1 ? ctx.labFile.vip : undefined });
  ctx.log(`${type} on ${count} node(s), baseline: ${(baseline.ms / 1000).toFixed(1)} s`);
  return { first, rerun, baseline };
}

function artifact(ctx: BenchContext, rel: string): string {
  const file = path.join(ctx.binaryDir, rel);
  if (!fs.existsSync(file)) throw new Error(`bench binary_dir has no ${rel}`);
  return file;
}

function baselineFiles(ctx: BenchContext, type: RegistryType, ha: boolean): Record<string, string> {
  const v = (k: string) => labVersion(ctx.labFile, k);
  const files: Record<string, string> = {
    'docker.tgz': artifact(ctx, `docker/${v('docker_version')}/amd64/docker-${v('docker_version')}.tgz`),
    'docker-compose': artifact(ctx, `image-registry/docker-compose/${v('dockercompose_version')}/amd64/docker-compose`),
  };
  if (type === 'harbor') files['harbor.tgz'] = artifact(ctx, `image-registry/harbor/${v('harbor_version')}/amd64/harbor-offline-installer-${v('harbor_version')}.tgz`);
  else files['registry.tgz'] = artifact(ctx, `image-registry/docker-registry/${v('docker_registry_version')}/amd64/docker-registry-${v('docker_registry_version')}-linux-amd64.tgz`);
  if (ha) files['keepalived.tgz'] = artifact(ctx, `image-registry/keepalived/${v('keepalived_version')}/amd64/keepalived-${v('keepalived_version')}-linux-amd64.tgz`);
  return files;
}

/** The largest artifact this type uploads (the one the resume case interrupts). */
export function largestArtifact(ctx: BenchContext, type: RegistryType): string {
  return Object.values(baselineFiles(ctx, type, false)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
}

export interface ResumeMeasure {
  file: string;
  size: number;
  stagedAtKill: number;
  killedAfterMs: number;
  resumeMs: number;
  totalMs: number;
  sentBytes: number;
  resentBytes: number;
  /** From the kill until the interrupted step ran again (the server waits out the step's heartbeat timeout). */
  stepRestartedAfterMs?: number;
  analysis: RunAnalysis;
}

/**
 * One node: the CLI is killed (SIGKILL) when half of the largest upload is staged on the host, then `kk resume`
 * finishes the run. Counts the bytes the host received for that file in both sessions.
 */
export async function resumeCase(ctx: BenchContext, type: RegistryType): Promise<ResumeMeasure> {
  const nodes = nodesOf(ctx, 1);
  await freshNodes(ctx.labFile, nodes, ctx.workdir);
  const file = largestArtifact(ctx, type);
  const size = fs.statSync(file).size;
  const sha = fs.readFileSync(`${file}.sha256`, 'utf8').split(' ')[0]!;
  const staging = `/root/.kk-staging/${sha}.part`;
  const watcher = await labSsh(nodes[0]!, new KnownHosts(path.join(ctx.scratch, 'known_hosts.resume')));
  const stagedSize = async () => Number((await watcher.exec(`stat -c %s ${staging} 2>/dev/null || echo 0`)).stdout.trim()) || 0;
  let killedAt = 0;
  let runId: string | undefined;
  try {
    const first = await timedKk(installArgs(ctx, type, nodes), (pid, stderr) => {
      const poll = async () => {
        while ((await stagedSize()) < size / 2) await new Promise((r) => setTimeout(r, 100));
        runId = /^run (\S+)/m.exec(stderr())?.[1];
        killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
      };
      poll().catch((err: Error) => ctx.log(`resume: watching the upload failed: ${err.message}`));
    });
    if (!killedAt) throw new Error(`resume: the install ended (exit ${first.code}) before half of ${path.basename(file)} was uploaded`);
    await new Promise((r) => setTimeout(r, 1000));
    const stagedAtKill = await stagedSize();
    const resumed = await timedKk(['resume', runId!, '--workdir', ctx.workdir, '--output', 'json']);
    if (resumed.code !== 0) throw new Error(`kk resume exited ${resumed.code}\n${resumed.stderr.slice(-3000)}`);
    // sftp-server killed with its connection may not log its close: the first session sent what the host holds.
    const sent = stagedAtKill + (await sftpWritten(ctx.labFile, nodes, resumed.spawnedAt)).files.filter((f) => f.file.endsWith(`${sha}.part`)).reduce((a, f) => a + f.bytes, 0);
    const client = await workdirClient(ctx.workdir);
    const analysis = await analyzeRun(client, runId!).finally(() => client.connection.close());
    const retried = analysis.slowestNode?.steps.find((s) => s.attempt > 1);
    const killedAfterMs = killedAt - first.spawnedAt;
    const m: ResumeMeasure = {
      file: path.basename(file),
      size,
      stagedAtKill,
      killedAfterMs,
      resumeMs: resumed.ms,
      totalMs: killedAfterMs + resumed.ms,
      sentBytes: sent,
      resentBytes: sent - size,
      stepRestartedAfterMs: retried && retried.started - killedAt,
      analysis,
    };
    ctx.log(`resume: killed after ${(killedAfterMs / 1000).toFixed(1)} s at ${stagedAtKill}/${size} bytes staged; resume ${(resumed.ms / 1000).toFixed(1)} s; ${m.resentBytes} bytes sent twice`);
    return m;
  } finally {
    watcher.close();
  }
}
