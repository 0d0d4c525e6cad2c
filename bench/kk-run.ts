import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DevServerInfo } from '../runtime/dev-server';
import { spawnKk, type KkResult } from '../test/support/kk';

/** Peak resident memory of a process so far (VmHWM), in bytes; undefined when it is gone. */
export function peakRss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function serverInfo(workdir: string): DevServerInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(workdir, 'temporal', 'server.json'), 'utf8')) as DevServerInfo;
  } catch {
    return undefined;
  }
}

export interface Timed extends KkResult {
  /** Epoch ms when the CLI was spawned and when it exited. */
  spawnedAt: number;
  exitedAt: number;
  ms: number;
  /** The run's workflow id, from the CLI's `run ID` line. */
  runId?: string;
  /** The CLI's peak RSS (VmHWM sampled every 100 ms until it exits). */
  cliPeakRss?: number;
}

/**
 * Runs kk as a user would and times it; `onStart` gets the child (to kill it, say). The CLI's VmHWM is sampled while it
 * runs: the last sample before it exits is its peak within 100 ms of the end.
 */
export async function timedKk(args: string[], onStart?: (pid: number, stderr: () => string) => void): Promise<Timed> {
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const { child, done, stderr } = spawnKk(args);
  let cliPeakRss: number | undefined;
  const sample = setInterval(() => (cliPeakRss = Math.max(cliPeakRss ?? 0, peakRss(child.pid) ?? 0) || undefined), 100);
  onStart?.(child.pid!, stderr);
  const r = await done;
  clearInterval(sample);
  const ms = performance.now() - t0;
  const runId = /^run (\S+)/m.exec(r.stderr)?.[1];
  return { ...r, spawnedAt, exitedAt: spawnedAt + ms, ms, runId, cliPeakRss };
}
