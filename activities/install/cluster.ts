import { describeHost } from '../../config/hosts';
import { CONTAINERD_CERTS_DIR, CONTAINERD_CONFIG, containerdConfigPath, hostsToml, withContainerdConfigPath, withHostsBlock } from '../../registry/cluster-trust';
import { detectScript, parseDetect, INPUT_FINGERPRINT_FILE, type RegistryFound } from '../../registry/detect';
import { KK_UNIT_MARKER } from '../../registry/markers';
import { hostFailure } from '../ssh/errors';
import { raw, sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { tail } from '../ssh/session';
import { asRoot, clearPending, markPending, mustRun, putFile, restartPending } from './remote';
import type { RegistryCredentials } from './verify';

/** What a registry host runs: kk's install (type, version, health, the input it was converged with), another's, none. */
export async function detectRegistry(session: HostSession, health?: { url: string; caPath: string }): Promise<RegistryFound> {
  const r = await asRoot(session, detectScript(health), { timeoutMs: 60_000 });
  if (!r.stdout.includes('@@end')) throw hostFailure('NotReady', `${describeHost(session.target)}: registry detection failed: ${tail(r.stderr, 500) || `exit ${r.code}`}`);
  return parseDetect(r.stdout);
}

/** Records the input fingerprint create cluster converged this host with (0600: an HMAC, but kept from others anyway). */
export async function recordFingerprint(session: HostSession, fingerprint: string): Promise<string> {
  return (await putFile(session, INPUT_FINGERPRINT_FILE, `${fingerprint}\n`, 0o600)) ? 'recorded' : 'skipped';
}

/**
 * Whether another installer's registry answers the endpoint in a way kk's clients accept: over TLS verified with kk's
 * CA (given on curl's stdin), or with the configured credentials (on curl's stdin, `-K -`) under the host's own trust.
 */
export async function endpointAnswers(session: HostSession, url: string, resolve: string | undefined, caCert: string, credentials: RegistryCredentials | undefined): Promise<'ca' | 'credentials' | undefined> {
  // `resolve`: the endpoint's name pinned to this host's address, so the answer is this host's registry, not another's.
  const pin = resolve ? sh`--resolve ${resolve} ` : '';
  const withCa = await asRoot(session, sh`curl -sS --max-time 5 ${raw(pin)}--cacert /dev/stdin -o /dev/null -w '%{http_code}' ${url}`, { stdin: caCert, timeoutMs: 30_000 });
  if (/^[1-5]\d\d$/.test(withCa.stdout.trim()) && withCa.stdout.trim() !== '000') return 'ca';
  if (!credentials) return undefined;
  const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const config = `url = ${quote(url)}\n${resolve ? `resolve = ${quote(resolve)}\n` : ''}user = ${quote(`${credentials.username}:${credentials.password}`)}\nsilent\nmax-time = 5\noutput = "/dev/null"\nwrite-out = "%{http_code}"\n`;
  const withCreds = await asRoot(session, 'curl -K -', { stdin: config, timeoutMs: 30_000 });
  return withCreds.stdout.trim() === '200' ? 'credentials' : undefined;
}

/** The container runtimes on a Kubernetes node, and whether a kubelet is installed there. */
export interface NodeRuntime {
  docker?: { version: string; byKk: boolean };
  /** containerd counts as the node's runtime when there is no Docker, or when its config.toml exists (a CRI setup). */
  containerd?: { config?: string };
  kubelet: boolean;
}

export async function detectRuntime(session: HostSession): Promise<NodeRuntime> {
  const r = await asRoot(
    session,
    sh`echo @@docker; docker --version 2>/dev/null; f=$(systemctl show -p FragmentPath --value docker.service 2>/dev/null); [ -n "$f" ] && head -n1 "$f"; echo @@containerd; command -v containerd 2>/dev/null; echo @@config; if [ -f ${CONTAINERD_CONFIG} ]; then echo present; cat ${CONTAINERD_CONFIG}; fi; echo @@kubelet; systemctl show -p LoadState --value kubelet.service 2>/dev/null; echo @@end`,
    { timeoutMs: 30_000 },
  );
  const part = (name: string) => new RegExp(`^@@${name}\\n([\\s\\S]*?)(?=^@@)`, 'm').exec(r.stdout)?.[1] ?? '';
  if (!r.stdout.includes('@@end')) throw hostFailure('NotReady', `${describeHost(session.target)}: runtime detection failed: ${tail(r.stderr, 500)}`);
  const dockerVersion = /Docker version ([^\s,]+)/.exec(part('docker'))?.[1];
  const configText = part('config');
  const config = configText.startsWith('present\n') ? configText.slice('present\n'.length) : undefined;
  const containerd = part('containerd').trim() !== '' && (!dockerVersion || config !== undefined);
  return {
    ...(dockerVersion && { docker: { version: dockerVersion, byKk: part('docker').includes(KK_UNIT_MARKER) } }),
    ...(containerd && { containerd: { config } }),
    kubelet: part('kubelet').trim() === 'loaded',
  };
}

/**
 * containerd pulls from the registry: hosts.toml (and kk's CA beside it) under the certs.d directory its config_path
 * names; `config_path` is set when it is not (the config backed up once first), and containerd restarted for it,
 * following the pending-restart marker like every other restart.
 */
export async function configureContainerd(session: HostSession, endpoint: string, scheme: 'http' | 'https', caCert: string | undefined, signal: AbortSignal): Promise<string> {
  const runtime = await detectRuntime(session);
  if (!runtime.containerd) throw hostFailure('CommandFailed', `${describeHost(session.target)}: containerd is not this node's runtime`);
  const certsDir = (runtime.containerd.config && containerdConfigPath(runtime.containerd.config)) || CONTAINERD_CERTS_DIR;
  const dir = `${certsDir.split(':')[0]!.replace(/\/$/, '')}/${endpoint}`;
  const changed = [
    caCert ? await putFile(session, `${dir}/ca.crt`, caCert) : false,
    await putFile(session, `${dir}/hosts.toml`, hostsToml(endpoint, scheme, caCert ? `${dir}/ca.crt` : undefined)),
  ].some(Boolean);
  const config = withContainerdConfigPath(runtime.containerd.config, CONTAINERD_CERTS_DIR);
  if (config !== undefined) {
    await mustRun(session, sh`if [ -f ${CONTAINERD_CONFIG} ] && [ ! -e ${`${CONTAINERD_CONFIG}.kk-backup`} ]; then cp -p ${CONTAINERD_CONFIG} ${`${CONTAINERD_CONFIG}.kk-backup`}; fi`, `backing up ${CONTAINERD_CONFIG}`);
    await putFile(session, CONTAINERD_CONFIG, config, 0o644, 'containerd');
  }
  if (await restartPending(session, 'containerd')) {
    await mustRun(session, 'systemctl restart containerd', 'restarting containerd', { timeoutMs: 120_000, signal });
    await mustRun(session, 'for i in $(seq 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; ctr version', 'waiting for containerd', { timeoutMs: 60_000, signal, transient: true });
    await clearPending(session, 'containerd');
    return 'config_path set, containerd restarted';
  }
  return changed ? 'updated' : 'skipped';
}

/** /etc/hosts gains (or keeps) kk's block mapping the registry name; the rest of the file is kept as it is. */
export async function writeHostsBlock(session: HostSession, entries: { name: string; address: string }[]): Promise<string> {
  const current = (await mustRun(session, 'cat /etc/hosts', 'reading /etc/hosts', { timeoutMs: 30_000 })).stdout;
  const next = withHostsBlock(current, entries);
  if (next === current) return 'skipped';
  // In place when /etc/hosts is a mount point (containers bind-mount it): mv over it would fail.
  await mustRun(
    session,
    "umask 022 && cat > /etc/hosts.kktmp && chmod 644 /etc/hosts.kktmp && { mv -fT /etc/hosts.kktmp /etc/hosts 2>/dev/null || { cat /etc/hosts.kktmp > /etc/hosts && rm -f /etc/hosts.kktmp; }; }",
    'writing /etc/hosts',
    { stdin: next, timeoutMs: 30_000 },
  );
  return 'updated';
}

/**
 * Pulls `image` with containerd's own client: ctr with the certs.d directory (so hosts.toml and the CA are what is
 * proven). Credentials go into a header of a temporary hosts.toml (0600, in a 0700 directory of root's, removed
 * afterwards), never on a command line.
 */
export async function ctrPull(session: HostSession, image: string, endpoint: string, scheme: 'http' | 'https', credentials: RegistryCredentials | undefined, signal: AbortSignal): Promise<string> {
  const runtime = await detectRuntime(session);
  const certsDir = ((runtime.containerd?.config && containerdConfigPath(runtime.containerd.config)) || CONTAINERD_CERTS_DIR).split(':')[0]!.replace(/\/$/, '');
  const caPath = `${certsDir}/${endpoint}/ca.crt`;
  const hasCa = (await asRoot(session, sh`test -f ${caPath}`, { timeoutMs: 15_000 })).code === 0;
  const header = credentials ? { Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` } : undefined;
  const toml = hostsToml(endpoint, scheme, hasCa ? caPath : undefined, header);
  await mustRun(
    session,
    sh`mkdir -p /var/lib/kubekey && d=$(mktemp -d /var/lib/kubekey/pull.XXXXXX) && trap 'rm -rf "$d"' EXIT && mkdir -m 700 "$d/"${endpoint} && (umask 077 && cat > "$d/"${endpoint}/hosts.toml) && ctr -n k8s.io images pull --hosts-dir "$d" ${image} >/dev/null && ctr -n k8s.io images rm ${image} >/dev/null`,
    `pulling ${image} with ctr`,
    { stdin: toml, timeoutMs: 300_000, signal, transient: true },
  );
  return 'ctr';
}
