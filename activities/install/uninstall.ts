import { describeHost } from '../../config/hosts';
import { CONTAINERD_CERTS_DIR, CONTAINERD_CONFIG, containerdConfigPath, HOSTS_TOML_MARKER } from '../../registry/cluster-trust';
import { INPUT_FINGERPRINT_FILE } from '../../registry/detect';
import { HARBOR_DIR, HARBOR_PROJECT, HARBOR_UNIT } from '../../registry/harbor/layout';
import { REGISTRY_DIR } from '../../registry/layout';
import { KK_UNIT_MARKER } from '../../registry/markers';
import { hostFailure } from '../ssh/errors';
import { raw, sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { ARTIFACT_DIR } from './docker';
import { DOCKER_BINARIES } from './docker-units';
import { removeKeepalived } from './keepalived';
import { KEEPALIVED_DIR } from '../../registry/render';
import { REGISTRY_UNIT } from './registry';
import { asRoot, mustRun, pendingMarker } from './remote';
import { writeHostsBlock } from './cluster';

const INSTALLS = [
  { unit: HARBOR_UNIT, project: HARBOR_PROJECT, dir: HARBOR_DIR, pending: 'harbor' },
  { unit: REGISTRY_UNIT, project: 'docker-registry', dir: REGISTRY_DIR, pending: 'docker-registry' },
] as const;

/** The first line of a unit file under /etc/systemd/system: kk's marker, another's line, or absent. */
async function unitOwner(session: HostSession, unit: string): Promise<'kk' | 'other' | 'absent'> {
  const r = await asRoot(session, sh`f=/etc/systemd/system/${unit}; if [ -e "$f" ]; then head -n1 "$f"; else echo @@absent; fi`, { timeoutMs: 30_000 });
  const first = r.stdout.split('\n')[0]?.trim();
  return first === '@@absent' ? 'absent' : first === KK_UNIT_MARKER ? 'kk' : 'other';
}

/**
 * Removes what kk's registry install created on this host, whatever image_registry.type says: kk's harbor.service and
 * docker-registry.service with their compose projects and images, /opt/harbor, /opt/docker-registry, keepalived (its
 * unit, /opt/keepalived, the VIP), kk's markers. Units of the same name that kk did not write, and the directories
 * beside them, are kept. Registry data goes only with `withData`, and only the paths named (the CLI listed them).
 * Running it again finds nothing and says so.
 */
export async function removeRegistryInstall(session: HostSession, dataPaths: string[], withData: boolean, signal: AbortSignal): Promise<Record<string, string>> {
  const steps: Record<string, string> = {};
  const docker = (await asRoot(session, 'docker version >/dev/null 2>&1', { timeoutMs: 30_000 })).code === 0;
  for (const i of INSTALLS) {
    const owner = await unitOwner(session, i.unit);
    if (owner === 'other') {
      steps[i.project] = `kept ${i.unit} and ${i.dir} (not installed by kk)`;
      continue;
    }
    const present = owner === 'kk' || (await asRoot(session, sh`test -d ${i.dir}`, { timeoutMs: 15_000 })).code === 0;
    if (!present) continue;
    const unitFile = `/etc/systemd/system/${i.unit}`;
    // The compose file kk's unit starts; down removes the project's containers, networks and images kk loaded.
    const compose = owner === 'kk' ? (await asRoot(session, sh`grep -o -- ' -f [^ ]*' ${unitFile} | head -n1 | cut -c5-`, { timeoutMs: 15_000 })).stdout.trim() : '';
    // Harbor's installer also loads images its compose file does not start (prepare): those of its version go too.
    const version = /^\/opt\/harbor\/([^/]+)\//.exec(compose)?.[1];
    const harborImages = i.project === HARBOR_PROJECT && version ? sh`docker images --format '{{.Repository}}:{{.Tag}}' | grep -E ${`^goharbor/[a-z0-9-]+:${version.replace(/\./g, '\.')}$`} | xargs -r docker rmi >/dev/null 2>&1; ` : '';
    const down = docker
      ? sh`if [ -n ${compose} ] && [ -f ${compose} ]; then docker-compose -p ${i.project} -f ${compose} down --rmi all --remove-orphans >/dev/null 2>&1; fi; ids=$(docker ps -aq --filter ${`label=com.docker.compose.project=${i.project}`}); [ -z "$ids" ] || docker rm -f $ids >/dev/null; ${raw(harborImages)}`
      : '';
    await mustRun(
      session,
      sh`systemctl disable --now ${i.unit} >/dev/null 2>&1; ${raw(down)}rm -f ${unitFile} && rm -rf ${i.dir} && rm -f ${pendingMarker(i.pending)} && systemctl daemon-reload && (systemctl reset-failed ${i.unit} 2>/dev/null; true)`,
      `removing ${i.unit}`,
      { timeoutMs: 300_000, signal },
    );
    steps[i.project] = 'removed';
  }
  const versions = (await asRoot(session, sh`ls ${KEEPALIVED_DIR} 2>/dev/null; true`, { timeoutMs: 15_000 })).stdout.split('\n').filter(Boolean);
  const keepalived = await removeKeepalived(session);
  if (keepalived !== 'absent') {
    // The image kk loaded for it goes too.
    if (docker && versions.length) await asRoot(session, `docker rmi ${versions.map((v) => sh`${`osixia/keepalived:${v}`}`).join(' ')} >/dev/null 2>&1; true`, { timeoutMs: 60_000 });
    steps.keepalived = keepalived;
  }
  await mustRun(session, sh`rm -f ${INPUT_FINGERPRINT_FILE} ${pendingMarker('kk-keepalived')}`, 'removing kk markers');
  if (withData) {
    for (const path of dataPaths) {
      if (!path.startsWith('/') || path.split('/').filter(Boolean).length < 2) throw hostFailure('InvalidInput', `${describeHost(session.target)}: refusing to delete ${path} as registry data`);
      const exists = (await asRoot(session, sh`test -e ${path}`, { timeoutMs: 15_000 })).code === 0;
      if (exists) {
        // The parent kk's `mkdir -p` made for the default paths (/var/lib/harbor, /var/lib/docker-registry) goes when empty.
        const parent = path.slice(0, path.lastIndexOf('/'));
        const own = /\/(harbor|docker-registry)$/.test(parent) ? sh` && rmdir ${parent} 2>/dev/null; true` : '';
        await mustRun(session, sh`rm -rf ${path}${raw(own)}`, `deleting ${path}`, { timeoutMs: 600_000, signal });
        steps[`data ${path}`] = 'deleted';
      }
    }
  }
  return steps;
}

/**
 * Removes the trust entries kk wrote for the registry: /etc/docker/certs.d/<name>/ca.crt for the registry's names (and
 * any other holding kk's CA), containerd's certs.d directories whose hosts.toml kk wrote, and kk's /etc/hosts block.
 */
export async function removeRegistryTrust(session: HostSession, names: string[], caSha256: string | undefined): Promise<string> {
  const removed: string[] = [];
  const r = await asRoot(session, 'for f in /etc/docker/certs.d/*/ca.crt; do [ -f "$f" ] && sha256sum "$f"; done 2>/dev/null; true', { timeoutMs: 30_000 });
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [hash, file] = line.split(/\s+/);
    const name = file?.split('/')[4];
    if (!file || !name) continue;
    if (caSha256 ? hash === caSha256 : names.includes(name)) {
      await mustRun(session, sh`rm -f ${file} && rmdir ${`/etc/docker/certs.d/${name}`} 2>/dev/null; true`, `removing ${file}`);
      removed.push(file);
    }
  }
  await asRoot(session, 'rmdir /etc/docker/certs.d 2>/dev/null; true', { timeoutMs: 15_000 });
  const config = (await asRoot(session, sh`cat ${CONTAINERD_CONFIG} 2>/dev/null; true`, { timeoutMs: 15_000 })).stdout;
  const dirs = [...new Set([CONTAINERD_CERTS_DIR, (containerdConfigPath(config) ?? CONTAINERD_CERTS_DIR).split(':')[0]!.replace(/\/$/, '')])];
  for (const dir of dirs) {
    const found = await asRoot(session, sh`for f in ${raw(`${sh`${dir}`}/*/hosts.toml`)}; do [ -f "$f" ] && [ "$(head -n1 "$f")" = ${HOSTS_TOML_MARKER} ] && echo "$f"; done 2>/dev/null; true`, { timeoutMs: 30_000 });
    for (const file of found.stdout.split('\n').filter(Boolean)) {
      const d = file.slice(0, file.lastIndexOf('/'));
      await mustRun(session, sh`rm -rf ${d}`, `removing ${d}`);
      removed.push(d);
    }
    await asRoot(session, sh`rmdir ${dir} 2>/dev/null; true`, { timeoutMs: 15_000 });
  }
  if ((await writeHostsBlock(session, [])) === 'updated') removed.push('/etc/hosts block');
  return removed.length ? `removed ${removed.join(', ')}` : 'none found';
}

/**
 * `--all`: the Docker (and its containerd, and docker-compose) kk installed goes: units, binaries, daemon.json (the
 * one kk found is put back), Docker's data under /var/lib/docker, kk's artifacts and staging. Kept: a Docker kk did
 * not install, a Docker a kubelet on this host may use, one that still holds containers kk did not create, and
 * containerd's data (/var/lib/containerd, /opt/containerd) in every case.
 */
export async function removeKkDocker(session: HostSession, signal: AbortSignal): Promise<string> {
  const owner = await unitOwner(session, 'docker.service');
  if (owner === 'other') return 'kept Docker (not installed by kk)';
  const kubelet = (await asRoot(session, 'systemctl show -p LoadState --value kubelet.service 2>/dev/null', { timeoutMs: 15_000 })).stdout.trim() === 'loaded';
  if (owner === 'kk' && kubelet) return 'kept Docker (a kubelet on this host may use it)';
  let removed = 'Docker not installed by kk: nothing to remove';
  if (owner === 'kk') {
    const containers = (await asRoot(session, "docker ps -aq 2>/dev/null | wc -l", { timeoutMs: 30_000 })).stdout.trim();
    if (containers !== '0' && containers !== '') return `kept Docker: ${containers} container(s) kk did not create still use it`;
    const dataRoot = (await asRoot(session, `docker info --format '{{.DockerRootDir}}' 2>/dev/null`, { timeoutMs: 30_000 })).stdout.trim() || '/var/lib/docker';
    const binaries = DOCKER_BINARIES.map((b) => `/usr/local/bin/${b}`);
    await mustRun(
      session,
      sh`systemctl disable --now docker.service containerd.service >/dev/null 2>&1; rm -f /etc/systemd/system/docker.service /etc/systemd/system/containerd.service ${raw(binaries.map((b) => sh`${b}`).join(' '))} /usr/local/bin/docker-compose && if [ -f /etc/docker/daemon.json.kk-backup ]; then mv -f /etc/docker/daemon.json.kk-backup /etc/docker/daemon.json; else rm -f /etc/docker/daemon.json; fi; ${raw(dataRoot === '/var/lib/docker' ? 'rm -rf /var/lib/docker; ' : '')}rm -f /etc/docker/key.json; rmdir /etc/docker /etc/cni/net.d /etc/cni 2>/dev/null; ip link delete docker0 2>/dev/null; rm -rf ${ARTIFACT_DIR} ${pendingMarker('docker')} ${pendingMarker('containerd')}; rmdir /var/lib/kubekey/pending-restart /var/lib/kubekey 2>/dev/null; systemctl daemon-reload; systemctl reset-failed docker.service containerd.service 2>/dev/null; true`,
      'removing the Docker kk installed',
      { timeoutMs: 300_000, signal },
    );
    removed = `removed Docker and docker-compose${dataRoot !== '/var/lib/docker' ? ` (its data in ${dataRoot} kept)` : ''}`;
  }
  // The login user's staging directory (uploads): kk's own, in the user's home. And root's docker client config that
  // verification's login/logout left empty (one holding any login or setting is kept).
  await session.exec('rm -rf ~/.kk-staging', { timeoutMs: 30_000 });
  await asRoot(session, `h=$(getent passwd root | cut -d: -f6); c="$h/.docker/config.json"; if [ -f "$c" ] && [ "$(tr -d ' \\n\\t' < "$c")" = '{"auths":{}}' ]; then rm -f "$c"; rmdir "$h/.docker" 2>/dev/null; fi; true`, { timeoutMs: 30_000 });
  return removed;
}
