import { createHash } from 'node:crypto';
import { describeHost } from '../../config/hosts';
import { hostFailure } from '../ssh/errors';
import { raw, sh } from '../ssh/quote';
import type { ExecOptions, ExecResult, HostSession } from '../ssh/session';
import { tail } from '../ssh/session';

/**
 * Commands run as root with a PATH of their own: sudo's `secure_path` on RHEL-family hosts lacks /usr/local/bin,
 * where kk puts docker and docker-compose, so a bare `docker` would not be found after kk installed it.
 */
const ROOT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; ';

export function asRoot(session: HostSession, cmd: string, options: Omit<ExecOptions, 'sudo'> = {}): Promise<ExecResult> {
  return session.exec(ROOT_PATH + cmd, { ...options, sudo: true });
}

export interface MustRunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: string;
  /**
   * The command may fail for a while and then succeed (a daemon still starting, a VIP moving): its failure is
   * NotReady and retried. Otherwise a non-zero exit is CommandFailed, reported at once and not retried.
   */
  transient?: boolean;
}

/**
 * A registry refusing the credentials, as docker login, docker push/pull and ctr say it (`unauthorized: authentication
 * required`, `401 Unauthorized`): the same credentials are refused the same way on every retry. A proxy asking for its
 * own credentials (HTTP 407 `Proxy Authentication Required`) is not the registry's doing: image_registry.auth is not
 * to blame, so it stays an ordinary failure.
 */
export function registryAuthRefused(said: string): boolean {
  if (/proxy authentication|\b407\b/i.test(said)) return false;
  return /\b401\b|\bunauthorized\b|incorrect username or password/i.test(said);
}

/**
 * Runs a command as root; a non-zero exit is a failure that names the host, the step, the exit code and the command's
 * last words (never its stdin, where secrets go). A transient step's failure is retried, except a refused login.
 */
export async function mustRun(session: HostSession, cmd: string, what: string, options: MustRunOptions = {}): Promise<ExecResult> {
  const r = await asRoot(session, cmd, { timeoutMs: options.timeoutMs ?? 300_000, signal: options.signal, stdin: options.stdin });
  if (r.code !== 0) {
    const said = tail(r.stderr.trim() || r.stdout.trim(), 800);
    const where = `${describeHost(session.target)}: ${what} failed (exit ${r.code})`;
    if (options.transient && registryAuthRefused(said)) {
      throw hostFailure('CommandFailed', `${where}: the registry refused the credentials (HTTP 401): check image_registry.auth.username and image_registry.auth.password (kk resume retries with a fixed one): ${said}`);
    }
    throw hostFailure(options.transient ? 'NotReady' : 'CommandFailed', `${where}: ${said}`);
  }
  return r;
}

/**
 * A restart owed to a service, recorded on the host before any of its inputs changes and cleared only after the
 * restart. An activity killed between writing a file and restarting leaves the marker, so its retry (which finds the
 * files already in place) still restarts: restarts follow the host's state, not what one attempt wrote.
 */
const PENDING_DIR = '/var/lib/kubekey/pending-restart';

export function pendingMarker(service: string): string {
  return `${PENDING_DIR}/${service}`;
}

/** Records that `service` owes a restart (before the change that causes it). */
export async function markPending(session: HostSession, service: string): Promise<void> {
  await mustRun(session, sh`mkdir -p ${PENDING_DIR} && touch ${pendingMarker(service)}`, `recording a restart of ${service}`);
}

export async function restartPending(session: HostSession, service: string): Promise<boolean> {
  return (await asRoot(session, sh`test -e ${pendingMarker(service)}`, { timeoutMs: 30_000 })).code === 0;
}

export async function clearPending(session: HostSession, service: string): Promise<void> {
  await mustRun(session, sh`rm -f ${pendingMarker(service)}`, `clearing the pending restart of ${service}`);
}

/**
 * Writes a file on the host only when its content or mode differs (compared by sha256 on the host, in one round
 * trip), atomically, with the mode set before it appears. With `restarts`, a changed file first marks that service
 * as owing a restart (see pendingMarker). Returns whether it changed.
 */
export async function putFile(session: HostSession, path: string, content: string, mode = 0o644, restarts?: string): Promise<boolean> {
  const hash = createHash('sha256').update(content).digest('hex');
  const octal = mode.toString(8);
  const staged = `${path}.kktmp`;
  const mark = restarts ? sh`mkdir -p ${PENDING_DIR} && touch ${pendingMarker(restarts)} && ` : '';
  const r = await mustRun(
    session,
    sh`if [ -f ${path} ] && [ ! -L ${path} ] && [ "$(sha256sum < ${path} | cut -c1-64)" = ${hash} ] && [ "$(stat -c %a ${path})" = ${octal} ]; then cat >/dev/null; echo same; else ${raw(mark)}mkdir -p "$(dirname ${path})" && rm -f ${staged} && umask 077 && cat > ${staged} && chmod ${octal} ${staged} && chown root:root ${staged} && mv -fT ${staged} ${path} && echo changed; fi`,
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
    const r = await asRoot(session, sh`curl -sS --max-time 5 --cacert ${caPath} -o /dev/null -w '%{http_code}' ${url}`, { timeoutMs: 15_000, signal });
    last = r.stdout.trim() || r.stderr.trim();
    if (last === '200' || last === '401') return;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw hostFailure('NotReady', `${describeHost(session.target)}: ${url} did not answer within ${timeoutMs / 1000}s; last answer: ${last || 'none'}${await extra()}`);
}

/**
 * Uploads an image tarball (resumable, skipped when the host has it) and loads it unless Docker already has the image.
 * `changed`: the image under that name is another one than before (a restart is owed); a tarball uploaded again with
 * the same image inside changes nothing.
 */
export async function ensureImage(
  session: HostSession,
  localTarball: string,
  remoteTarball: string,
  image: string,
  onProgress: (offset: number, total: number) => void,
  signal?: AbortSignal,
): Promise<{ uploaded: boolean; loaded: boolean; changed: boolean }> {
  const upload = await session.upload(localTarball, remoteTarball, { onProgress, signal });
  const imageId = async () => (await asRoot(session, sh`docker image inspect --format '{{.Id}}' ${image} 2>/dev/null`, { timeoutMs: 60_000 })).stdout.trim();
  const before = await imageId();
  if (before && upload.skipped) return { uploaded: false, loaded: false, changed: false };
  await mustRun(session, sh`docker load -i ${remoteTarball}`, `loading ${image}`, { timeoutMs: 600_000, signal });
  return { uploaded: !upload.skipped, loaded: true, changed: (await imageId()) !== before };
}

/**
 * Ports a service of ours is about to publish, held by another program: Docker's proxy would fail to bind, and the
 * service unit would only loop in systemd's restarts while a health wait runs out. A deterministic failure naming the
 * program instead (the run parks with the fix). Docker's own proxy holding the port is a container of this service.
 */
export async function refuseForeignListeners(session: HostSession, ports: readonly number[], service: string): Promise<void> {
  const script = ports.map((p) => sh`printf '%s %s\n' ${p} "$(ss -ltnpH ${`sport = :${p}`} 2>/dev/null | grep -o 'users:(([^)]*)' | head -n1)"`).join('; ');
  const r = await asRoot(session, script, { timeoutMs: 30_000 });
  const taken = r.stdout
    .split('\n')
    .map((line) => /^(\d+) users:\(\("([^"]+)",pid=(\d+)/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null && m[2] !== 'docker-proxy')
    .map((m) => `port ${m[1]} is held by ${m[2]} (pid ${m[3]})`);
  if (taken.length) {
    throw hostFailure('CommandFailed', `${describeHost(session.target)}: ${taken.join(', ')}, not by ${service}; stop it, or choose other ports (image_registry.https_port / http_port), then kk resume`);
  }
}
