import { sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { CONTAINERD_UNIT, daemonJson, DOCKER_UNIT } from './docker-units';
import { mustRun, putFile } from './remote';

/**
 * Docker from the static tarball, skipped when the same version already runs: binaries to /usr/local/bin, units for
 * containerd and docker, daemon.json; restarted only when something changed.
 */
export async function installDocker(session: HostSession, tarball: string, version: string, onProgress: (o: number, t: number) => void, signal: AbortSignal): Promise<string> {
  const running = await session.exec(sh`/usr/local/bin/dockerd --version 2>/dev/null; systemctl is-active docker 2>/dev/null`, { sudo: true, timeoutMs: 30_000 });
  const sameVersion = new RegExp(`Docker version ${version.replace(/\./g, '\\.')}[+,\\s-]`).test(running.stdout);
  let binaries = false;
  if (!sameVersion) {
    const remote = `/tmp/kubekey/docker-${version}.tgz`;
    await session.upload(tarball, remote, { onProgress, signal });
    await mustRun(session, sh`tar -C /usr/local/bin --strip-components=1 -xzf ${remote} docker/`, 'unpacking docker', { signal });
    binaries = true;
  }
  const units = [
    await putFile(session, '/etc/systemd/system/containerd.service', CONTAINERD_UNIT),
    await putFile(session, '/etc/systemd/system/docker.service', DOCKER_UNIT),
  ].some(Boolean);
  const config = await putFile(session, '/etc/docker/daemon.json', daemonJson());
  const active = running.stdout.trim().endsWith('active') && !running.stdout.trim().endsWith('inactive');
  if (!binaries && !units && !config && active) return 'skipped';
  if (units) await mustRun(session, 'systemctl daemon-reload', 'systemctl daemon-reload');
  await mustRun(session, 'systemctl enable containerd docker && systemctl restart containerd && systemctl restart docker', 'starting docker', { timeoutMs: 180_000, signal });
  await mustRun(session, 'for i in $(seq 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; docker info', 'waiting for docker', { timeoutMs: 120_000, signal });
  return sameVersion ? 'reconfigured' : 'installed';
}

/** docker-compose to /usr/local/bin, skipped when the version matches. */
export async function installCompose(session: HostSession, binary: string, version: string, onProgress: (o: number, t: number) => void, signal: AbortSignal): Promise<string> {
  const r = await session.exec('/usr/local/bin/docker-compose version --short 2>/dev/null', { sudo: true, timeoutMs: 30_000 });
  if (r.code === 0 && r.stdout.trim().replace(/^v/, '') === version.replace(/^v/, '')) return 'skipped';
  await session.upload(binary, '/usr/local/bin/docker-compose', { mode: 0o755, onProgress, signal });
  return 'installed';
}
