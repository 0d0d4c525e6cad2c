import { createHash } from 'node:crypto';
import { describeHost } from '../../config/hosts';
import { hostFailure } from '../ssh/errors';
import { sh } from '../ssh/quote';
import type { ExecResult, HostSession } from '../ssh/session';
import { tail } from '../ssh/session';

/** Runs a command as root; a non-zero exit is a failure that names the host, the step and the command's last words. */
export async function mustRun(session: HostSession, cmd: string, what: string, options: { timeoutMs?: number; signal?: AbortSignal; stdin?: string } = {}): Promise<ExecResult> {
  const r = await session.exec(cmd, { sudo: true, timeoutMs: options.timeoutMs ?? 300_000, signal: options.signal, stdin: options.stdin });
  if (r.code !== 0) {
    // Retryable: steps fail for reasons a retry may outlive (a daemon still starting, a lock held).
    throw hostFailure('SshConnectionLost', `${describeHost(session.target)}: ${what} failed (exit ${r.code}): ${tail(r.stderr.trim() || r.stdout.trim(), 800)}`);
  }
  return r;
}

/**
 * Writes a file on the host only when its content or mode differs (compared by sha256 on the host, in one round
 * trip), atomically, with the mode set before it appears. Returns whether it changed: callers restart only what changed.
 */
export async function putFile(session: HostSession, path: string, content: string, mode = 0o644): Promise<boolean> {
  const hash = createHash('sha256').update(content).digest('hex');
  const octal = mode.toString(8);
  const staged = `${path}.kktmp`;
  const r = await mustRun(
    session,
    sh`if [ -f ${path} ] && [ "$(sha256sum < ${path} | cut -c1-64)" = ${hash} ] && [ "$(stat -c %a ${path})" = ${octal} ]; then cat >/dev/null; echo same; else mkdir -p "$(dirname ${path})" && umask 077 && cat > ${staged} && chmod ${octal} ${staged} && mv -f ${staged} ${path} && echo changed; fi`,
    `writing ${path}`,
    { stdin: content },
  );
  return r.stdout.trim() === 'changed';
}

/**
 * Waits until `url` answers 200 or 401 from this host, over TLS verified with the CA at `caPath` (never -k);
 * a timeout names the host, the URL and the last answer. `extra` adds context to that message.
 */
export async function waitAnswers(session: HostSession, url: string, caPath: string, signal: AbortSignal, timeoutMs: number, extra: () => Promise<string> = async () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await session.exec(sh`curl -sS --max-time 5 --cacert ${caPath} -o /dev/null -w '%{http_code}' ${url}`, { sudo: true, timeoutMs: 15_000, signal });
    last = r.stdout.trim() || r.stderr.trim();
    if (last === '200' || last === '401') return;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw hostFailure('SshTimeout', `${describeHost(session.target)}: ${url} did not answer within ${timeoutMs / 1000}s; last answer: ${last || 'none'}${await extra()}`);
}

/** Uploads an image tarball (resumable, skipped when the host has it) and loads it unless Docker already has the image. */
export async function ensureImage(
  session: HostSession,
  localTarball: string,
  remoteTarball: string,
  image: string,
  onProgress: (offset: number, total: number) => void,
  signal?: AbortSignal,
): Promise<{ uploaded: boolean; loaded: boolean }> {
  const upload = await session.upload(localTarball, remoteTarball, { onProgress, signal });
  const present = (await session.exec(sh`docker image inspect ${image} >/dev/null 2>&1`, { sudo: true, timeoutMs: 60_000 })).code === 0;
  if (present && upload.skipped) return { uploaded: false, loaded: false };
  await mustRun(session, sh`docker load -i ${remoteTarball}`, `loading ${image}`, { timeoutMs: 600_000, signal });
  return { uploaded: !upload.skipped, loaded: true };
}
