import { describeHost } from '../../config/hosts';
import { KK_UNIT_MARKER } from '../../registry/markers';
import { hostFailure } from '../ssh/errors';
import { sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { CONTAINERD_UNIT, DAEMON_DEFAULTS, DOCKER_UNIT, mergeDaemonJson } from './docker-units';
import { asRoot, clearPending, markPending, mustRun, putFile, restartPending } from './remote';

/** Where kk keeps the artifacts it uploads: root's own directory, never a world-writable one like /tmp. */
export const ARTIFACT_DIR = '/var/lib/kubekey/artifacts';
const DAEMON_JSON = '/etc/docker/daemon.json';

/** Docker on a host as KubeKey detects it (`docker --version`), plus whether kk installed it and its daemon.json. */
interface DockerState {
  version?: string;
  active: boolean;
  managedByKk: boolean;
  daemonJson?: Record<string, unknown>;
}

async function dockerState(session: HostSession): Promise<DockerState> {
  const r = await asRoot(
    session,
    sh`docker --version 2>/dev/null; echo @@active; systemctl is-active docker 2>/dev/null; echo @@unit; head -n1 /etc/systemd/system/docker.service 2>/dev/null; echo; echo @@daemon; cat ${DAEMON_JSON} 2>/dev/null`,
    { timeoutMs: 30_000 },
  );
  const [head = '', active = '', unit = '', daemon = ''] = r.stdout.split(/^@@(?:active|unit|daemon)$/m);
  let daemonJson: Record<string, unknown> | undefined;
  if (daemon.trim()) {
    try {
      daemonJson = JSON.parse(daemon) as Record<string, unknown>;
    } catch {
      throw hostFailure('CommandFailed', `${describeHost(session.target)}: ${DAEMON_JSON} is not valid JSON; fix or remove it (kk merges its settings into it and will not overwrite it)`);
    }
  }
  return {
    version: /Docker version ([^\s,]+)/.exec(head)?.[1],
    active: active.trim() === 'active',
    managedByKk: unit.trim().split('\n')[0] === KK_UNIT_MARKER,
    daemonJson,
  };
}

/**
 * Docker from the static tarball, unless the host has a Docker already. One kk did not install (from the distribution's
 * packages, say) is kept as it is: no binaries, units or restart; only the insecure registries plain HTTP needs are
 * merged into its daemon.json (backed up first) and applied with a reload, owed until done as a restart is. kk's own
 * Docker is upgraded when the version differs. daemon.json is always merged, never replaced. A restart (or reload)
 * owed by an earlier, interrupted attempt is still made (see pendingMarker).
 */
export async function installDocker(
  session: HostSession,
  tarball: string,
  version: string,
  insecureRegistries: string[],
  onProgress: (o: number, t: number) => void,
  signal: AbortSignal,
): Promise<string> {
  const state = await dockerState(session);
  const foreign = state.version !== undefined && !state.managedByKk;
  const daemon = mergeDaemonJson(state.daemonJson, { defaults: foreign ? undefined : DAEMON_DEFAULTS, insecureRegistries });
  if (foreign) {
    const current = state.daemonJson ? `${JSON.stringify(state.daemonJson, null, 2)}\n` : undefined;
    if (!state.active) await mustRun(session, 'systemctl start docker', 'starting the existing docker', { timeoutMs: 180_000, signal });
    if (current !== daemon && (state.daemonJson || insecureRegistries.length)) {
      await backupDaemonJson(session);
      // The reload is owed from before the write until it is done: a retry that finds the file merged still reloads.
      await putFile(session, DAEMON_JSON, daemon, 0o644, 'docker');
    }
    if (!(await restartPending(session, 'docker'))) return `kept ${state.version} (not installed by kk)`;
    // insecure-registries is one of the settings dockerd reloads on SIGHUP: no restart of a Docker that is not ours.
    await mustRun(session, 'systemctl reload docker', 'reloading docker');
    await clearPending(session, 'docker');
    return `kept ${state.version} (not installed by kk); daemon.json merged`;
  }

  const sameVersion = state.version !== undefined && (state.version === version || state.version.startsWith(`${version}+`) || state.version.startsWith(`${version}-`));
  if (!sameVersion) {
    const remote = `${ARTIFACT_DIR}/docker-${version}.tgz`;
    await session.upload(tarball, remote, { onProgress, signal });
    await markPending(session, 'docker');
    await mustRun(session, sh`tar -C /usr/local/bin --no-same-owner --strip-components=1 -xzf ${remote} docker/`, 'unpacking docker', { signal });
  }
  const units = [
    await putFile(session, '/etc/systemd/system/containerd.service', CONTAINERD_UNIT, 0o644, 'docker'),
    await putFile(session, '/etc/systemd/system/docker.service', DOCKER_UNIT, 0o644, 'docker'),
  ].some(Boolean);
  if (state.daemonJson && !state.managedByKk) await backupDaemonJson(session);
  await putFile(session, DAEMON_JSON, daemon, 0o644, 'docker');
  const pending = await restartPending(session, 'docker');
  if (!pending && state.active) return 'skipped';
  if (units || pending) await mustRun(session, 'systemctl daemon-reload', 'systemctl daemon-reload');
  await mustRun(session, 'systemctl enable containerd docker && systemctl restart containerd && systemctl restart docker', 'starting docker', { timeoutMs: 180_000, signal });
  await mustRun(session, 'for i in $(seq 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; docker info', 'waiting for docker', { timeoutMs: 120_000, signal, transient: true });
  await clearPending(session, 'docker');
  return sameVersion ? 'reconfigured' : state.version ? `updated ${state.version} to ${version}` : 'installed';
}

/** The daemon.json kk found, kept once beside it before kk's first change. */
async function backupDaemonJson(session: HostSession): Promise<void> {
  await mustRun(session, sh`if [ -f ${DAEMON_JSON} ] && [ ! -e ${`${DAEMON_JSON}.kk-backup`} ]; then cp -p ${DAEMON_JSON} ${`${DAEMON_JSON}.kk-backup`}; fi`, `backing up ${DAEMON_JSON}`);
}

/** docker-compose to /usr/local/bin, skipped when the version matches. */
export async function installCompose(session: HostSession, binary: string, version: string, onProgress: (o: number, t: number) => void, signal: AbortSignal): Promise<string> {
  const r = await asRoot(session, '/usr/local/bin/docker-compose version --short 2>/dev/null', { timeoutMs: 30_000 });
  if (r.code === 0 && r.stdout.trim().replace(/^v/, '') === version.replace(/^v/, '')) return 'skipped';
  await session.upload(binary, '/usr/local/bin/docker-compose', { mode: 0o755, onProgress, signal });
  return 'installed';
}
