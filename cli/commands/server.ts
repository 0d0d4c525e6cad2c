import { ensureDevServer, runningDevServer, startDevServer, stopDevServer } from '../../runtime/dev-server';

/** `kk server`: the work dir's Temporal dev server with its web UI, in the foreground (`kk server stop` stops a background one). */
export async function serverCommand(workdir: string, sub: string | undefined): Promise<number> {
  if (sub === 'stop') {
    process.stdout.write((await stopDevServer(workdir)) ? 'stopped\n' : 'no server runs for this work dir\n');
    return 0;
  }
  if (sub === 'start') {
    const s = await ensureDevServer(workdir);
    process.stdout.write(`Temporal ${s.address}${s.uiUrl ? `  UI ${s.uiUrl}` : ''}  (pid ${s.pid}, background)\n`);
    return 0;
  }
  const running = await runningDevServer(workdir);
  if (running) {
    process.stdout.write(`already running in the background: Temporal ${running.address}${running.uiUrl ? `  UI ${running.uiUrl}` : ''} (pid ${running.pid}); stop it with: kk server stop\n`);
    return 0;
  }
  const s = await startDevServer(workdir, { ui: true, detached: false });
  process.stdout.write(`Temporal ${s.address}  UI ${s.uiUrl}  data ${s.dbFile}\nCtrl-C stops it.\n`);
  const stop = () => process.kill(s.pid, 'SIGTERM');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await s.exited;
  return code ?? 0;
}
