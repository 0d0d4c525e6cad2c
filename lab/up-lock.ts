import * as fs from 'node:fs';
import * as path from 'node:path';
import { STATE_DIR } from './paths';
import { log, sleep } from './process';

const LOCK = path.join(STATE_DIR, 'up.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One `lab up` at a time per lab: the test script starts one in the background (the builds take minutes on a fresh
 * machine) while tests that need no lab run, and the first lab test's own `up` waits for it instead of building the
 * same things beside it. A lock left by a process that died is taken over.
 */
export async function withUpLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  let said = false;
  for (;;) {
    try {
      fs.writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(LOCK, 'utf8').trim());
      if (!holder || !alive(holder)) {
        fs.rmSync(LOCK, { force: true });
        continue;
      }
      if (!said) log(`waiting for the lab up under way (pid ${holder})`);
      said = true;
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    if (fs.readFileSync(LOCK, 'utf8').trim() === String(process.pid)) fs.rmSync(LOCK, { force: true });
  }
}
