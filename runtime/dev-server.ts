import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureTemporalCli } from './temporal-cli';

/** The embedded default: a Temporal dev server per work dir, persisted in SQLite there, reused by later commands. */
export interface DevServerInfo {
  pid: number;
  address: string;
  uiUrl?: string;
  dbFile: string;
  logFile: string;
}

export function serverDir(workdir: string): string {
  return path.join(workdir, 'temporal');
}

function stateFile(workdir: string): string {
  return path.join(serverDir(workdir), 'server.json');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(address: string, timeoutMs: number): Promise<boolean> {
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

/** The server this work dir already runs, if it is up. */
export async function runningDevServer(workdir: string): Promise<DevServerInfo | undefined> {
  let info: DevServerInfo;
  try {
    info = JSON.parse(fs.readFileSync(stateFile(workdir), 'utf8')) as DevServerInfo;
  } catch {
    return undefined;
  }
  if (!alive(info.pid)) return undefined;
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

export async function startDevServer(workdir: string, options: { ui: boolean; detached: boolean; port?: number; uiPort?: number }): Promise<DevServerInfo & { exited: Promise<number | null> }> {
  const cli = await ensureTemporalCli();
  const dir = serverDir(workdir);
  fs.mkdirSync(dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (await freePort());
  const dbFile = path.join(dir, 'temporal.db');
  const logFile = path.join(dir, 'server.log');
  const args = [
    'server', 'start-dev',
    '--db-filename', dbFile,
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--http-port', String(await freePort()),
    '--metrics-port', String(await freePort()),
    '--log-level', 'warn',
    '--dynamic-config-value', 'frontend.activityAPIsEnabled=true',
    ...(options.ui ? ['--ui-port', String(uiPort)] : ['--headless']),
  ];
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cli, args, { detached: options.detached, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  if (options.detached) child.unref();
  const info: DevServerInfo = { pid: child.pid!, address: `127.0.0.1:${port}`, uiUrl: options.ui ? `http://127.0.0.1:${uiPort}` : undefined, dbFile, logFile };
  const deadline = Date.now() + 90_000;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!(await answers(info.address, 2000))) {
    if (gone) throw new Error(`the Temporal dev server exited while starting; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`the Temporal dev server did not answer on ${info.address} within 90 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  fs.writeFileSync(stateFile(workdir), JSON.stringify(info, null, 2));
  return { ...info, exited };
}

/** Stops the work dir's background server, if one runs. */
export async function stopDevServer(workdir: string): Promise<boolean> {
  const running = await runningDevServer(workdir);
  if (!running) return false;
  process.kill(running.pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(running.pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(running.pid)) process.kill(running.pid, 'SIGKILL');
  fs.rmSync(stateFile(workdir), { force: true });
  return true;
}
