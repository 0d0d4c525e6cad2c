import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LabFile } from '../lab/lab-file';
import { LAB_JSON } from '../lab/paths';
import { kk } from '../test/support/kk';
import { labUp } from '../test/support/lab';
import { benchBinaryDir, REAL_SIZES } from './artifacts';
import { installCase, resumeCase, type BenchContext, type InstallMeasure, type RegistryType } from './cases';
import type { RunAnalysis } from './history';
import { peakRss, serverInfo } from './kk-run';
import { markAllDirty, resetDirty, setScratch } from './nodes';
import { figure, machine, table, type Figure } from './report';
import { cliStart, uploadThroughput } from './throughput';

const USAGE = `npm run bench -- [--quick] [--type harbor|docker-registry|all]
  Runs on the lab (6 nodes; brought up when needed). --quick: small artifacts, one node, fewer cases (development).
  Prints the table and writes bench/results/<date>-<type>[-quick].json.`;

/** Bytes a resumed upload may send twice: the SFTP writes that can be in flight (activities/ssh/upload.ts). */
const INFLIGHT_WINDOW = 16 * 64 * 1024;

function parseArgs(argv: string[]): { quick: boolean; type: 'harbor' | 'docker-registry' | 'all' } {
  let quick = false;
  let type: 'harbor' | 'docker-registry' | 'all' = 'all';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--type' && ['harbor', 'docker-registry', 'all'].includes(argv[i + 1] ?? '')) type = argv[++i] as typeof type;
    else {
      process.stderr.write(`${a === '--help' || a === '-h' ? '' : `error: unexpected argument ${a}\n`}${USAGE}\n`);
      process.exit(a === '--help' || a === '-h' ? 0 : 2);
    }
  }
  return { quick, type };
}

const s = (ms: number) => ms / 1000;
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);

async function main(): Promise<void> {
  const { quick, type } = parseArgs(process.argv.slice(2));
  const types: RegistryType[] = type === 'all' ? ['docker-registry', 'harbor'] : [type];
  const started = new Date();
  const machineAtStart = machine();
  log(`${quick ? 'quick' : 'full'} run, ${types.join(' and ')}, on ${machineAtStart.cores} cores, ${(machineAtStart.memoryBytes / 2 ** 30).toFixed(1)} GiB, load ${machineAtStart.loadavg[0]!.toFixed(1)}`);
  if (spawnSync(process.execPath, [path.resolve(__dirname, '..', 'bin', 'build.js'), '--if-stale'], { stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
  // `lab up --nodes N` removes nodes above N: ask for at least as many as the lab has.
  const present = fs.existsSync(LAB_JSON) ? (JSON.parse(fs.readFileSync(LAB_JSON, 'utf8')) as LabFile).nodes.length : 0;
  const labFile = await labUp(Math.max(quick ? 1 : 6, present));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-bench-'));
  setScratch(scratch);
  markAllDirty(labFile);
  const workdir = path.join(scratch, 'work');
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  try {
    const sizes = quick ? { harbor: 100e6, docker: REAL_SIZES.docker } : REAL_SIZES;
    const binary = await benchBinaryDir(sizes);
    details.artifacts = { binaryDir: binary.dir, padded: binary.padded };
    const ctx: BenchContext = { labFile, workdir, binaryDir: binary.dir, scratch, log };

    // CLI start, from dist/.
    const cli = cliStart(quick ? 3 : 5);
    figures.push(figure('cli.config', '`kk config` start (dist/, median)', cli.config, 'ms', { op: '<=', bound: 300 }));
    figures.push(figure('cli.help', '`kk --help` start (dist/, median)', cli.help, 'ms'));

    // The SSH layer's upload against ssh+cat on the same link.
    const tp = await uploadThroughput(labFile.nodes[0]!, scratch, quick ? 32e6 : 128e6, quick ? 1 : 3);
    details.throughput = tp;
    figures.push(figure('ssh.cat', `\`ssh HOST 'cat > FILE'\` (${(tp.bytes / 1e6).toFixed(0)} MB)`, tp.cat, 'bytes/s'));
    figures.push(figure('ssh.kk', "kk's upload (SFTP, sha256 both ends, move)", tp.kk, 'bytes/s'));
    figures.push(figure('ssh.ratio', "kk's upload / ssh+cat", tp.kk / tp.cat, 'ratio', { op: '>=', bound: 0.8 }));
    figures.push(figure('ssh.writeRatio', "kk's SFTP transfer alone / ssh+cat", tp.kkWriteOnly / tp.cat, 'ratio'));

    // The embedded server, started once, as a user's first command would.
    const t0 = performance.now();
    const server = await kk(['server', 'start', '--workdir', workdir]);
    if (server.code !== 0) throw new Error(`kk server start: ${server.stderr}`);
    figures.push(figure('server.start', 'embedded server start (`kk server start`)', s(performance.now() - t0), 's'));

    for (const t of types) {
      const tag = t === 'harbor' ? 'Harbor' : 'docker-registry';
      const one = await installCase(ctx, t, 1, { rerun: true, baseline: true });
      const three = quick ? undefined : await installCase(ctx, t, 3, { rerun: true, baseline: true });
      const six = quick ? undefined : await installCase(ctx, t, 6, { rerun: false, baseline: false });
      details[t] = { one, three, six };
      const cases: [string, NonNullable<typeof one>][] = [['1 node', one], ...(three ? [['3 nodes + VIP', three] as [string, typeof one]] : [])];
      for (const [label, c] of cases) {
        figures.push(figure(`${t}.${c.first.nodes}.install`, `${tag} ${label}: first install`, s(c.first.ms), 's'));
        figures.push(figure(`${t}.${c.first.nodes}.baseline`, `${tag} ${label}: baseline script`, s(c.baseline!.ms), 's'));
        figures.push(figure(`${t}.${c.first.nodes}.vsBaseline`, `${tag} ${label}: install / baseline`, c.first.ms / c.baseline!.ms, 'ratio', { op: '<=', bound: 1.3 }));
        figures.push(figure(`${t}.${c.first.nodes}.rerun`, `${tag} ${label}: re-run / first install`, c.rerun!.ms / c.first.ms, 'ratio', { op: '<=', bound: 0.1 }));
        figures.push(figure(`${t}.${c.first.nodes}.rerunBytes`, `${tag} ${label}: bytes uploaded by the re-run`, c.rerun!.sftpBytes, 'bytes', { op: '<=', bound: 0 }));
        const a = c.first.analysis;
        figures.push(figure(`${t}.${c.first.nodes}.overhead`, `${tag} ${label}: orchestration overhead per step (${a.steps} steps)`, a.overheadPerStepMs, 'ms', { op: '<=', bound: 50 }));
        figures.push(figure(`${t}.${c.first.nodes}.overheadAfterStart`, `${tag} ${label}: the same without the wait for the worker (${s(a.firstTaskMs).toFixed(1)} s)`, (a.idleMs - a.firstTaskMs) / a.steps, 'ms'));
      }
      if (three) {
        figures.push(figure(`${t}.3.cliRss`, `${tag} 3 nodes: peak RSS of the CLI (in-process worker)`, three.first.cliPeakRss ?? 0, 'bytes'));
        figures.push(figure(`${t}.3.noop`, `${tag} 3 nodes: no-op re-run`, s(three.rerun!.ms), 's'));
      }
      if (six) {
        figures.push(figure(`${t}.6.install`, `${tag} 6 nodes + VIP: first install`, s(six.first.ms), 's'));
        figures.push(figure(`${t}.scale`, `${tag}: 6-node / 1-node install`, six.first.ms / one.first.ms, 'ratio', { op: '<=', bound: 1.5 }));
      }
    }

    // Resume: the largest upload of the heaviest type, interrupted halfway by SIGKILL.
    const resumeType: RegistryType = types.includes('harbor') ? 'harbor' : 'docker-registry';
    const r = await resumeCase(ctx, resumeType);
    details.resume = r;
    const uninterrupted = (details[resumeType] as { one: { first: InstallMeasure } }).one.first.ms;
    figures.push(figure('resume.resent', `resume (${r.file}, ${(r.size / 1e6).toFixed(0)} MB, killed at ${((100 * r.stagedAtKill) / r.size).toFixed(0)}%): bytes sent twice`, r.resentBytes, 'bytes', { op: '<=', bound: INFLIGHT_WINDOW }));
    figures.push(figure('resume.total', 'resume: killed run + `kk resume`', s(r.totalMs), 's'));
    figures.push(figure('resume.vsUninterrupted', 'resume: total / uninterrupted install', r.totalMs / uninterrupted, 'ratio'));
    if (r.stepRestartedAfterMs !== undefined) figures.push(figure('resume.wait', 'resume: kill to the step running again', s(r.stepRestartedAfterMs), 's'));

    const info = serverInfo(workdir);
    figures.push(figure('server.rss', 'peak RSS of the embedded server (temporal)', peakRss(info?.serverPid) ?? 0, 'bytes'));
    figures.push(figure('supervisor.rss', 'peak RSS of its kk supervisor', peakRss(info?.pid) ?? 0, 'bytes'));
  } finally {
    await kk(['server', 'stop', '--workdir', workdir]).catch(() => undefined);
    await resetDirty(labFile, workdir).catch((err: Error) => log(`resetting the nodes failed: ${err.message}`));
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  const date = started.toISOString().slice(0, 10);
  const machineAtEnd = machine();
  const result = { date: started.toISOString(), durationS: s(Date.now() - started.getTime()), quick, type, machine: { ...machineAtStart, loadavgAtEnd: machineAtEnd.loadavg }, figures, details };
  const out = path.resolve(__dirname, 'results', `${date}-${type}${quick ? '-quick' : ''}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  const m = machineAtStart;
  process.stdout.write(`\nkk bench ${result.date} (${quick ? 'quick' : 'full'}, ${type}), ${m.cores} cores (${m.cpu}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, load ${m.loadavg[0]!.toFixed(1)} → ${machineAtEnd.loadavg[0]!.toFixed(1)}, ${result.durationS.toFixed(0)} s\n\n`);
  process.stdout.write(`${table(figures)}\n\n`);
  const targets = figures.filter((f) => f.met !== undefined);
  process.stdout.write(`targets met: ${targets.filter((f) => f.met).length} of ${targets.length}${targets.some((f) => !f.met) ? `; missed: ${targets.filter((f) => !f.met).map((f) => f.key).join(', ')}` : ''}\n`);
  for (const t of types) breakdown(t, details[t] as { one: { first: InstallMeasure; rerun?: InstallMeasure }; three?: { first: InstallMeasure; rerun?: InstallMeasure } });
  process.stdout.write(`\nwritten: ${path.relative(process.cwd(), out)}\n`);
}

/** Where the time goes: the run's phases and its steps by time, from the workflow histories. */
function breakdown(type: RegistryType, d: { one: { first: InstallMeasure; rerun?: InstallMeasure }; three?: { first: InstallMeasure; rerun?: InstallMeasure } }): void {
  const c = d.three ?? d.one;
  const print = (title: string, m: InstallMeasure) => {
    const a: RunAnalysis = m.analysis;
    const phases = { 'cli start': m.cliStartMs, ...a.phases, 'cli exit': m.cliExitMs };
    process.stdout.write(`\n${type}, ${m.nodes} node(s), ${title}: ${s(m.ms).toFixed(1)} s; phases: ${Object.entries(phases).map(([k, v]) => `${k} ${s(v).toFixed(1)} s`).join(', ')}; overhead ${a.overheadPerStepMs.toFixed(0)} ms/step over ${a.steps} steps\n`);
    const steps = Object.entries(a.byStep).sort((x, y) => y[1].maxMs - x[1].maxMs);
    process.stdout.write(`  longest waits: ${a.gaps.slice(0, 6).map((g) => `${g.workflow || '(run)'} ${g.after} → ${g.before} ${s(g.ms).toFixed(2)} s`).join('; ')}\n`);
    for (const [name, b] of steps) process.stdout.write(`  ${name.padEnd(28)} ×${String(b.count).padEnd(3)} longest ${s(b.maxMs).toFixed(2).padStart(6)} s  sum ${s(b.totalMs).toFixed(2).padStart(6)} s  queued ${s(b.queuedMs).toFixed(2)} s${b.retries ? `  retries ${b.retries}` : ''}\n`);
  };
  print('first install', c.first);
  if (c.rerun) print('re-run', c.rerun);
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
