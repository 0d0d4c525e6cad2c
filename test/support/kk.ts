import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { loadCodecKey } from '../../runtime/codec';
import type { DevServerInfo } from '../../runtime/dev-server';
import { connectClient } from '../../runtime/temporal';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'kk.js');

export interface KkResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a user would, in its own process, against the embedded default unless env says otherwise. */
export function spawnKk(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<KkResult>; stderr(): string } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<KkResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

export function kk(args: string[], env: NodeJS.ProcessEnv = {}): Promise<KkResult> {
  return spawnKk(args, env).done;
}

/** A client on the work dir's embedded server, with the work dir's codec key. */
export async function workdirClient(workdir: string): Promise<Client> {
  const info = JSON.parse(fs.readFileSync(path.join(workdir, 'temporal', 'server.json'), 'utf8')) as DevServerInfo;
  return connectClient({ address: info.address, namespace: 'default', embedded: true }, loadCodecKey(workdir));
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
