import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { devServerSearchAttributeFlags } from '../workflows/search-attributes';
import { loadCodecKey } from './codec';
import { startCodecServer, type CodecServer } from './codec-server';
import { alive, answers, freePorts, readServerState, serverDir, stateFile, type DevServerInfo, type StartedDevServer } from './dev-server';
import { activeLeases } from './leases';
import { ensureTemporalCli } from './temporal-cli';

/**
 * The embedded server's supervisor: one kk process per work dir that runs the Temporal dev server as its child,
 * serves the UI's codec endpoint beside it (so the endpoint lives exactly as long as the server), and stops both
 * when the work dir has been idle for `idleMinutes`: no kk command attached (runtime/leases.ts) and no open run
 * making progress (history growing, heartbeats arriving). State is in SQLite, so the next kk command starts it again
 * and finds every run, parked ones included.
 */
export interface SuperviseOptions {
  ui: boolean;
  idleMinutes: number;
  port?: number;
  uiPort?: number;
}

export function activityFile(workdir: string): string {
  return path.join(serverDir(workdir), 'activity.json');
}

export interface ActivityState {
  lastActiveAt: string;
  attached: number;
  openRuns: number;
}

export async function superviseDevServer(workdir: string, options: SuperviseOptions): Promise<StartedDevServer> {
  const cli = await ensureTemporalCli();
  const dir = serverDir(workdir);
  fs.mkdirSync(dir, { recursive: true });
  // Every port this server and its codec endpoint will bind, chosen at once so no two are the same.
  const [freeFrontend, freeUi, httpPort, metricsPort, codecPort] = await freePorts(5);
  const port = options.port ?? freeFrontend!;
  const uiPort = options.uiPort ?? freeUi!;
  const dbFile = path.join(dir, 'temporal.db');
  const logFile = path.join(dir, 'server.log');
  // The codec endpoint's port must be known before the UI starts: the UI is configured with it at start.
  let codec: CodecServer | undefined;
  if (options.ui) codec = await startCodecServer({ key: loadCodecKey(workdir), port: codecPort, uiOrigins: [`http://127.0.0.1:${uiPort}`] });
  const args = [
    'server', 'start-dev',
    '--db-filename', dbFile,
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--http-port', String(httpPort),
    '--metrics-port', String(metricsPort),
    '--log-level', 'warn',
    '--dynamic-config-value', 'frontend.activityAPIsEnabled=true',
    ...devServerSearchAttributeFlags(),
    ...(options.ui ? ['--ui-port', String(uiPort), '--ui-codec-endpoint', codec!.url] : ['--headless']),
  ];
  const out = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(cli, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let gone = false;
  const childExited = new Promise<number | null>((resolve) => child.on('exit', (code) => ((gone = true), resolve(code))));
  const info: DevServerInfo = {
    pid: process.pid,
    serverPid: child.pid,
    address: `127.0.0.1:${port}`,
    uiUrl: options.ui ? `http://127.0.0.1:${uiPort}` : undefined,
    codecUrl: codec?.url,
    dbFile,
    logFile,
    startedAt: new Date().toISOString(),
    idleMinutes: options.idleMinutes,
  };
  const deadline = Date.now() + 90_000;
  while (!(await answers(info.address, 2000))) {
    if (gone || Date.now() > deadline) {
      child.kill('SIGKILL');
      await codec?.close();
      throw new Error(gone ? `the Temporal dev server exited while starting; see ${logFile}` : `the Temporal dev server did not answer on ${info.address} within 90 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  fs.writeFileSync(stateFile(workdir), JSON.stringify(info, null, 2));

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Later commands must not find a server that is going away.
    if (readServerState(workdir)?.pid === info.pid) fs.rmSync(stateFile(workdir), { force: true });
    child.kill('SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
    hard.unref();
  };
  const exited = childExited.then(async (code) => {
    if (readServerState(workdir)?.pid === info.pid) fs.rmSync(stateFile(workdir), { force: true });
    await codec?.close();
    return code;
  });
  if (options.idleMinutes > 0) watchIdle(workdir, info, options.idleMinutes * 60_000, stop, exited);
  return { ...info, exited, stop };
}

/** Stops the server once the work dir has been idle for idleMs. */
function watchIdle(workdir: string, info: DevServerInfo, idleMs: number, stop: () => void, exited: Promise<unknown>): void {
  let lastActive = Date.now();
  let signature = '';
  let connection: Connection | undefined;
  const tick = async () => {
    const attached = activeLeases(workdir).length;
    let openRuns = 0;
    try {
      connection ??= await Connection.connect({ address: info.address, connectTimeout: 5000 });
      const progress = await openRunProgress(connection);
      openRuns = progress.open;
      if (progress.signature !== signature) {
        signature = progress.signature;
        lastActive = Date.now();
      }
    } catch {
      // A server too busy to answer is not idle.
      lastActive = Date.now();
    }
    if (attached) lastActive = Date.now();
    const state: ActivityState = { lastActiveAt: new Date(lastActive).toISOString(), attached, openRuns };
    fs.writeFileSync(activityFile(workdir), JSON.stringify(state));
    if (Date.now() - lastActive >= idleMs && !activeLeases(workdir).length) {
      clearInterval(timer);
      await connection?.close().catch(() => undefined);
      stop();
    }
  };
  const timer = setInterval(() => void tick(), Math.max(1000, Math.min(30_000, idleMs / 6)));
  void tick();
  void exited.then(() => {
    clearInterval(timer);
    void connection?.close().catch(() => undefined);
  });
}

/**
 * What changes while an open run makes progress: its history length and its pending activities' heartbeats and
 * attempts (an upload heartbeats for minutes without adding an event). A run parked with no worker changes nothing.
 */
async function openRunProgress(connection: Connection): Promise<{ open: number; signature: string }> {
  const namespace = 'default';
  const page = await connection.workflowService.listWorkflowExecutions({ namespace, query: `ExecutionStatus = 'Running'`, pageSize: 500 });
  const parts: string[] = [];
  for (const e of page.executions ?? []) {
    const d = await connection.workflowService.describeWorkflowExecution({ namespace, execution: e.execution });
    const beats = (d.pendingActivities ?? []).map((a) => `${a.activityId}:${a.attempt}:${a.lastHeartbeatTime?.seconds ?? ''}.${a.lastHeartbeatTime?.nanos ?? ''}:${a.state}`);
    parts.push(`${e.execution?.workflowId}@${d.workflowExecutionInfo?.historyLength ?? ''}[${beats.join(',')}]`);
  }
  const open = (page.executions ?? []).filter((e) => !e.execution?.workflowId?.includes('/')).length;
  return { open, signature: parts.sort().join(';') };
}

/** Starts the supervisor as a detached process of its own (it outlives the kk command) and waits until it serves. */
export async function spawnSupervisor(workdir: string, options: { idleMinutes: number }): Promise<StartedDevServer> {
  const dir = serverDir(workdir);
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'server.log');
  const out = fs.openSync(logFile, 'a');
  // Run through tsx when kk runs from its TypeScript sources; a compiled kk runs the .js beside this file.
  const entry = path.join(__dirname, `supervisor${path.extname(__filename)}`);
  const nodeArgs = path.extname(__filename) === '.ts' ? ['--require', require.resolve('tsx/cjs'), entry] : [entry];
  const child = spawn(process.execPath, [...nodeArgs, workdir], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, KK_SERVER_IDLE_MINUTES: String(options.idleMinutes) },
  });
  fs.closeSync(out);
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => ((gone = true), resolve(code))));
  child.unref();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const info = readServerState(workdir);
    if (info && info.pid === child.pid && (await answers(info.address, 2000))) {
      return { ...info, exited, stop: () => void child.kill('SIGTERM') };
    }
    if (gone) throw new Error(`the Temporal dev server's supervisor exited while starting; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the Temporal dev server did not start within 120 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The detached supervisor process: `node supervisor.ts <workdir>`. */
async function main(workdir: string): Promise<void> {
  const idle = Number(process.env.KK_SERVER_IDLE_MINUTES ?? '30');
  const s = await superviseDevServer(workdir, { ui: true, idleMinutes: Number.isFinite(idle) ? idle : 30 });
  process.on('SIGTERM', s.stop);
  process.on('SIGINT', s.stop);
  // A terminal closing must not stop a server that other commands use.
  process.on('SIGHUP', () => undefined);
  const code = await s.exited;
  if (alive(s.serverPid ?? 0)) process.kill(s.serverPid!, 'SIGKILL');
  process.exit(code ?? 0);
}

if (require.main === module) {
  main(path.resolve(process.argv[2] ?? 'kubekey')).catch((err: Error) => {
    process.stderr.write(`kk supervisor: ${err.message}\n`);
    process.exit(1);
  });
}
