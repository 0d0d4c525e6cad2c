import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';

/** Runs a program (no shell) and returns its stdout; a non-zero exit throws with the program's stderr. */
export async function run(file: string, args: readonly string[], options: SpawnOptions & { input?: string | Buffer; quiet?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`));
    });
    // A program may exit without reading its input; that is its exit code's business, not an error here.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(options.input ?? '');
  });
}

/** Like run, but answers whether it succeeded instead of throwing. */
export async function succeeds(file: string, args: readonly string[], options: SpawnOptions = {}): Promise<boolean> {
  try {
    await run(file, args, options);
    return true;
  } catch {
    return false;
  }
}

/** Runs with the terminal attached (output passes through); returns the exit code. */
export function runInherit(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): number {
  const r = spawnSync(file, args, { stdio: 'inherit', env });
  return r.status ?? 1;
}

export function log(message: string): void {
  process.stderr.write(`lab: ${message}\n`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
