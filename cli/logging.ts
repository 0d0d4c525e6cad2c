import * as fs from 'node:fs';
import * as path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

/** SDK and worker logs go to <workdir>/logs/kk.log, so the terminal shows only kk's own output. */
export function installLogging(workdir: string, level: 'WARN' | 'INFO' = 'WARN'): string {
  const dir = path.join(workdir, 'logs');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'kk.log');
  if (installed) return file;
  installed = true;
  const stream = fs.createWriteStream(file, { flags: 'a' });
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      stream.write(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message}${entry.meta ? ` ${safeJson(entry.meta)}` : ''}\n`);
    }),
  });
  return file;
}

function safeJson(meta: unknown): string {
  try {
    return JSON.stringify(meta);
  } catch {
    return '';
  }
}
