import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { lazy } from './lazy';

/**
 * The embedded default: a Temporal dev server per work dir, persisted in SQLite there, reused by later commands.
 * It runs under a small kk supervisor process (runtime/supervisor.ts) that also serves the UI's codec endpoint and
 * stops both after an idle period; `pid` is the supervisor's, so stopping it stops all of them.
 */
export interface DevServerInfo {
  pid: number;
  /** The temporal process itself (absent in a state file written by an older kk, whose `pid` was temporal's). */
  serverPid?: number;
  address: string;
  uiUrl?: string;
  /** The codec endpoint the UI decodes payloads with (loopback, the UI's origin only, secrets masked). */
  codecUrl?: string;
  dbFile: string;
  logFile: string;
  startedAt?: string;
  /** Minutes without an attached kk command or a progressing run after which it stops itself; 0: never. */
  idleMinutes?: number;
}

export function serverDir(workdir: string): string {
  return path.join(workdir, 'temporal');
}

export function stateFile(workdir: string): string {
  return path.join(serverDir(workdir), 'server.json');
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` distinct loopback ports free right now. All are held open until every one is chosen: asking one at a time
 * can hand out the same port twice when the first is not bound yet by the process it was chosen for.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function answers(address: string, timeoutMs: number): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/** The state file's content, whether or not that server still runs. */
export function readServerState(workdir: string): DevServerInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(workdir), 'utf8')) as DevServerInfo;
  } catch {
    return undefined;
  }
}

/** The server this work dir already runs, if it is up. */
export async function runningDevServer(workdir: string): Promise<DevServerInfo | undefined> {
  const info = readServerState(workdir);
  if (!info || !alive(info.pid)) return undefined;
  return (await answers(info.address, 3000)) ? info : undefined;
}

/** Starts the work dir's dev server in the background (it outlives this command) or reuses the running one. */
export async function ensureDevServer(workdir: string, options: { ui?: boolean } = {}): Promise<DevServerInfo> {
  const running = await runningDevServer(workdir);
  if (running) return running;
  const dir = serverDir(workdir);
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'start.lock');
  // Two kk commands starting at once must not start two servers on one database.
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const holder = Number(fs.readFileSync(lock, 'utf8'));
      if (!alive(holder)) fs.rmSync(lock, { force: true });
      else if (i > 600) throw new Error(`another kk (pid ${holder}) is starting the Temporal server for ${workdir}`);
      else await new Promise((r) => setTimeout(r, 100));
      const started = await runningDevServer(workdir);
      if (started) return started;
    }
  }
  try {
    return await startDevServer(workdir, { ui: options.ui ?? true, detached: true });
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** KK_SERVER_IDLE_MINUTES (default 30; 0 never stops; fractions allowed, for tests). */
export function idleMinutes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KK_SERVER_IDLE_MINUTES;
  if (raw === undefined || raw === '') return 30;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`KK_SERVER_IDLE_MINUTES=${raw}: expected a number of minutes (0: never stop)`);
  return n;
}

export interface StartedDevServer extends DevServerInfo {
  /** Settles when the server has stopped (its exit code). */
  exited: Promise<number | null>;
  /** Stops the server and its codec endpoint. */
  stop(): void;
}

/**
 * Starts the work dir's dev server. Detached: under a supervisor process of its own that outlives this command
 * (serving the codec endpoint and stopping after the idle period); otherwise in this process, until stopped.
 */
export async function startDevServer(workdir: string, options: { ui: boolean; detached: boolean; port?: number; uiPort?: number }): Promise<StartedDevServer> {
  // Loaded here: the supervisor imports this module for its state file helpers.
  const { superviseDevServer, spawnSupervisor } = await lazy<typeof import('./supervisor')>(() => require('./supervisor'));
  if (options.detached) return spawnSupervisor(workdir, { idleMinutes: idleMinutes() });
  return superviseDevServer(workdir, { ui: options.ui, idleMinutes: 0, port: options.port, uiPort: options.uiPort });
}

/** Stops the work dir's background server (its supervisor, the codec endpoint and temporal), if one runs. */
export async function stopDevServer(workdir: string): Promise<boolean> {
  const running = await runningDevServer(workdir);
  if (!running) return false;
  const kill = (pid: number | undefined, signal: NodeJS.Signals) => {
    if (pid && alive(pid)) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
  };
  kill(running.pid, 'SIGTERM');
  for (let i = 0; i < 150 && (alive(running.pid) || (running.serverPid && alive(running.serverPid))); i++) await new Promise((r) => setTimeout(r, 100));
  kill(running.pid, 'SIGKILL');
  kill(running.serverPid, 'SIGKILL');
  fs.rmSync(stateFile(workdir), { force: true });
  return true;
}
