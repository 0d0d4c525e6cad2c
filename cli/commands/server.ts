import * as fs from 'node:fs';
import { age } from '../format';
import { lazy } from '../../runtime/lazy';

/**
 * `kk server`: the work dir's Temporal dev server with its web UI and the UI's codec endpoint, in the foreground;
 * `start` / `stop` the background one (which stops by itself after KK_SERVER_IDLE_MINUTES idle); `status` says
 * whether it runs, since when, and how many runs are open.
 */
export async function serverCommand(workdir: string, sub: string | undefined, output: 'text' | 'json' = 'text'): Promise<number> {
  const { ensureDevServer, runningDevServer, startDevServer, stopDevServer } = await lazy<typeof import('../../runtime/dev-server')>(() => require('../../runtime/dev-server')); // loads the Temporal client
  const print = (text: string, json: unknown) => process.stdout.write(output === 'json' ? `${JSON.stringify(json, null, 2)}\n` : text);
  if (sub === 'stop') {
    const stopped = await stopDevServer(workdir);
    print(stopped ? 'stopped\n' : 'no server runs for this work dir\n', { stopped });
    return 0;
  }
  if (sub === 'status') return serverStatus(workdir, output);
  if (sub === 'start') {
    const s = await ensureDevServer(workdir);
    const idle = s.idleMinutes ? `stops after ${s.idleMinutes} idle minutes` : 'runs until kk server stop';
    print(`Temporal ${s.address}${s.uiUrl ? `  UI ${s.uiUrl}` : ''}${s.codecUrl ? `  codec ${s.codecUrl}` : ''}  (pid ${s.pid}, background; ${idle})\n`, s);
    return 0;
  }
  const running = await runningDevServer(workdir);
  if (running) {
    process.stdout.write(`already running in the background: Temporal ${running.address}${running.uiUrl ? `  UI ${running.uiUrl}` : ''}${running.codecUrl ? `  codec ${running.codecUrl}` : ''} (pid ${running.pid}); stop it with: kk server stop\n`);
    return 0;
  }
  const s = await startDevServer(workdir, { ui: true, detached: false });
  process.stdout.write(`Temporal ${s.address}  UI ${s.uiUrl}  codec ${s.codecUrl}  data ${s.dbFile}\nCtrl-C stops it.\n`);
  process.once('SIGINT', s.stop);
  process.once('SIGTERM', s.stop);
  const code = await s.exited;
  return code ?? 0;
}

/** Whether the work dir's server runs, since when, its addresses, open runs, and when it would stop for idleness. */
async function serverStatus(workdir: string, output: 'text' | 'json'): Promise<number> {
  const [{ readServerState, runningDevServer }, { activityFile }, { Client, Connection }, { listRuns }] = await Promise.all([
    lazy<typeof import('../../runtime/dev-server')>(() => require('../../runtime/dev-server')),
    lazy<typeof import('../../runtime/supervisor')>(() => require('../../runtime/supervisor')),
    lazy<typeof import('@temporalio/client')>(() => require('@temporalio/client')),
    lazy<typeof import('./runs')>(() => require('./runs')),
  ]);
  if (process.env.TEMPORAL_ADDRESS) {
    const text = `kk uses the Temporal cluster at ${process.env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS); no embedded server is involved\n`;
    process.stdout.write(output === 'json' ? `${JSON.stringify({ embedded: false, address: process.env.TEMPORAL_ADDRESS })}\n` : text);
    return 0;
  }
  const s = await runningDevServer(workdir);
  if (!s) {
    const last = readServerState(workdir);
    const json = { running: false, workdir, dbFile: last?.dbFile ?? null };
    process.stdout.write(output === 'json' ? `${JSON.stringify(json, null, 2)}\n` : `not running (the next kk command for ${workdir} starts it; its runs are kept on disk)\n`);
    return 0;
  }
  // A plain client: counting runs reads no payload, and this command must not attach (it would keep the server up).
  const connection = await Connection.connect({ address: s.address });
  let openRuns: number;
  try {
    const client = new Client({ connection, namespace: 'default' });
    openRuns = (await listRuns({ client, endpoint: { address: s.address, namespace: 'default', embedded: true } }, `ExecutionStatus = 'Running'`)).length;
  } finally {
    await connection.close();
  }
  let activity: { lastActiveAt?: string; attached?: number } = {};
  try {
    activity = JSON.parse(fs.readFileSync(activityFile(workdir), 'utf8')) as typeof activity;
  } catch {
    // not written yet (it is within a tick of starting), or a server started by an older kk
  }
  const since = s.startedAt ? new Date(s.startedAt) : undefined;
  const idleStop = s.idleMinutes && activity.lastActiveAt ? new Date(new Date(activity.lastActiveAt).getTime() + s.idleMinutes * 60_000) : undefined;
  const json = {
    running: true,
    since: s.startedAt ?? null,
    pid: s.pid,
    address: s.address,
    uiUrl: s.uiUrl ?? null,
    codecUrl: s.codecUrl ?? null,
    openRuns,
    attachedCommands: activity.attached ?? null,
    idleMinutes: s.idleMinutes ?? null,
    lastActiveAt: activity.lastActiveAt ?? null,
    idleStopAt: idleStop?.toISOString() ?? null,
  };
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `running since ${s.startedAt ?? '(unknown: started by an older kk)'}${since ? ` (${age(since)})` : ''}, pid ${s.pid}`,
    `Temporal ${s.address}${s.uiUrl ? `  UI ${s.uiUrl}` : ''}${s.codecUrl ? `  codec ${s.codecUrl}` : ''}`,
    `open runs: ${openRuns}`,
    s.idleMinutes
      ? `idle stop: after ${s.idleMinutes} minutes with no kk command attached and no run making progress${idleStop ? ` (at ${idleStop.toISOString()} if nothing happens)` : ''}`
      : 'idle stop: off (kk server stop stops it)',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
