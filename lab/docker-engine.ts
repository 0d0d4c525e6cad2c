import * as fs from 'node:fs';
import * as path from 'node:path';
import { CACHE_DIR, RUN_DIR, STATE_DIR } from './paths';
import { log, run, sleep, succeeds } from './process';

const SOCKET = path.join(RUN_DIR, 'docker.sock');
const PIDFILE = path.join(RUN_DIR, 'docker.pid');
const STARTED_MARK = path.join(STATE_DIR, 'dockerd-started-by-lab');

/** The Docker environment every lab docker call uses. */
export function dockerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: process.env.KK_LAB_DOCKER_HOST ?? `unix://${SOCKET}` };
}

export const docker = (args: readonly string[], input?: string | Buffer) => run('docker', args, { env: dockerEnv(), input });
export const dockerOk = (args: readonly string[]) => succeeds('docker', args, { env: dockerEnv() });

async function answers(host: string): Promise<boolean> {
  return succeeds('docker', ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, DOCKER_HOST: host } });
}

/**
 * A Docker engine for the lab: DOCKER_HOST when it answers, else Debian's dockerd started here with its own data
 * root in the cache (vfs: the driver that works on this root filesystem), stopped by `down`.
 */
export async function ensureDockerEngine(): Promise<void> {
  if (process.env.DOCKER_HOST && (await answers(process.env.DOCKER_HOST))) {
    process.env.KK_LAB_DOCKER_HOST = process.env.DOCKER_HOST;
    return;
  }
  if (await answers(`unix://${SOCKET}`)) return;
  if (!fs.existsSync('/usr/sbin/dockerd') && !fs.existsSync('/usr/bin/dockerd')) {
    log('installing docker.io');
    await run('apt-get', ['update', '-qq']);
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'docker.io'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  fs.mkdirSync(RUN_DIR, { recursive: true });
  fs.mkdirSync(path.join(CACHE_DIR, 'docker'), { recursive: true });
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const logFile = fs.openSync(path.join(CACHE_DIR, 'dockerd.log'), 'a');
  const { spawn } = await import('node:child_process');
  const child = spawn(
    'dockerd',
    [
      '--data-root', path.join(CACHE_DIR, 'docker'),
      '--exec-root', path.join(RUN_DIR, 'exec'),
      '--host', `unix://${SOCKET}`,
      '--pidfile', PIDFILE,
      '--storage-driver', 'vfs',
      '--bridge', 'none',
    ],
    { detached: true, stdio: ['ignore', logFile, logFile] },
  );
  child.unref();
  fs.writeFileSync(STARTED_MARK, String(child.pid));
  for (let i = 0; i < 120; i++) {
    if (await answers(`unix://${SOCKET}`)) return log(`started dockerd (pid ${child.pid}, data in ${path.join(CACHE_DIR, 'docker')})`);
    await sleep(500);
  }
  throw new Error(`dockerd did not start; see ${path.join(CACHE_DIR, 'dockerd.log')}`);
}

/** Stops the dockerd the lab started (not one that DOCKER_HOST named). */
export async function stopDockerEngineIfOurs(): Promise<void> {
  if (!fs.existsSync(STARTED_MARK)) return;
  const pid = fs.existsSync(PIDFILE) ? Number(fs.readFileSync(PIDFILE, 'utf8')) : Number(fs.readFileSync(STARTED_MARK, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      process.kill(pid, 0);
      await sleep(200);
    }
  } catch {
    // gone
  }
  fs.rmSync(STARTED_MARK, { force: true });
  log('stopped dockerd');
}
