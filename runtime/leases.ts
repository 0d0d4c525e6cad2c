import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Which kk processes use the work dir's embedded server right now: each writes `<workdir>/temporal/clients/<pid>`
 * while it runs. The server's supervisor does not stop for idleness while one is alive (a crashed command's file is
 * recognised by its dead pid and removed).
 */
function leaseDir(workdir: string): string {
  return path.join(workdir, 'temporal', 'clients');
}

const held = new Set<string>();

export function attachLease(workdir: string): void {
  const dir = leaseDir(workdir);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, String(process.pid));
  if (held.has(file)) return;
  fs.writeFileSync(file, new Date().toISOString());
  if (!held.size) process.once('exit', () => held.forEach((f) => fs.rmSync(f, { force: true })));
  held.add(file);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of the kk processes attached now. */
export function activeLeases(workdir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(leaseDir(workdir));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) pids.push(pid);
    else fs.rmSync(path.join(leaseDir(workdir), name), { force: true });
  }
  return pids;
}
