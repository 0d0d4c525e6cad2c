import { registryLayout } from '../../registry/layout';
import { composeUnit, nodeRegistryCompose } from '../../registry/render';
import type { DockerRegistryNodeInput } from '../../registry/types';
import { command, sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { asRoot, clearPending, ensureImage, markPending, mustRun, putFile, refuseForeignListeners, restartPending, waitAnswers } from './remote';
import { KK_UNIT_MARKER } from '../../registry/markers';
import { hostFailure } from '../ssh/errors';
import { describeHost } from '../../config/hosts';

export const REGISTRY_UNIT = 'docker-registry.service';

/** Every name clients use for the registry trusts the CA: /etc/docker/certs.d/<name>/ca.crt (Docker reads it per request). */
export async function trustCa(session: HostSession, names: string[], caCert: string): Promise<string> {
  let changed = false;
  for (const name of names) changed = (await putFile(session, `/etc/docker/certs.d/${name}/ca.crt`, caCert)) || changed;
  return changed ? 'updated' : 'skipped';
}

/**
 * The registry on one node: image loaded, config, certificates, compose file and unit in place, data directory
 * bind-mounted (NFS-mounted when configured). The service is restarted only when one of its inputs changed.
 */
export async function deployRegistry(session: HostSession, input: DockerRegistryNodeInput, imageTarball: string, onProgress: (o: number, t: number) => void, signal: AbortSignal): Promise<Record<string, string>> {
  const layout = registryLayout(input.versions.registry);
  const steps: Record<string, string> = {};
  await refuseForeignUnit(session, REGISTRY_UNIT);
  const image = await ensureImage(session, imageTarball, layout.imageTarball, `registry:${layout.version}`, onProgress, signal);
  steps.image = image.loaded ? 'loaded' : 'skipped';

  if (input.hostDataDir) {
    await mustRun(session, command('mkdir', '-p', input.hostDataDir), `creating ${input.hostDataDir}`);
    if (input.nfs) steps.nfs = await mountNfs(session, input.nfs, input.hostDataDir);
  }
  const unit = 'docker-registry';
  const changed = [
    await putFile(session, layout.config, input.registryConfig, 0o600, unit),
    input.htpasswd !== undefined ? await putFile(session, layout.htpasswd, input.htpasswd, 0o600, unit) : false,
    await putFile(session, `${layout.ssl}/server.crt`, input.pki.serverCert, 0o644, unit),
    await putFile(session, `${layout.ssl}/server.key`, input.pki.serverKey, 0o600, unit),
    await putFile(session, `${layout.ssl}/ca.crt`, input.pki.caCert, 0o644, unit),
    input.gcsKeyfile ? await putFile(session, input.gcsKeyfile.path, input.gcsKeyfile.content, 0o600, unit) : false,
    await putFile(session, layout.compose, nodeRegistryCompose(input), 0o644, unit),
  ].some(Boolean);
  const unitChanged = await putFile(session, `/etc/systemd/system/${REGISTRY_UNIT}`, composeUnit('docker registry (installed by kk)', 'docker-registry', layout.compose), 0o644, unit);
  steps.config = changed || unitChanged ? 'updated' : 'skipped';
  if (image.changed) await markPending(session, unit);
  const pending = await restartPending(session, unit);
  const active = (await asRoot(session, command('systemctl', 'is-active', REGISTRY_UNIT), { timeoutMs: 30_000 })).stdout.trim() === 'active';
  if (pending || !active) {
    if (!active) await refuseForeignListeners(session, [input.port], 'the registry');
    await mustRun(session, 'systemctl daemon-reload', 'systemctl daemon-reload');
    await mustRun(session, `systemctl enable ${REGISTRY_UNIT} && systemctl restart ${REGISTRY_UNIT}`, 'starting the registry', { timeoutMs: 180_000, signal });
    await clearPending(session, unit);
    steps.service = active ? 'restarted' : 'started';
  } else steps.service = 'skipped';
  return steps;
}

/**
 * A unit of this name that kk did not write (its marker is missing) belongs to another installer: kk stops and says
 * so rather than replacing it. Where systemd loads it from counts, as the facts script reads it (a distribution
 * package's unit lives in /lib/systemd/system or /usr/lib/systemd/system), as well as kk's own path in /etc. Precheck
 * reports the same before anything changes.
 */
export async function refuseForeignUnit(session: HostSession, unit: string): Promise<void> {
  const r = await asRoot(
    session,
    sh`for f in ${`/etc/systemd/system/${unit}`} "$(systemctl show -p FragmentPath --value ${unit} 2>/dev/null)"; do [ -n "$f" ] && [ -e "$f" ] || continue; head -n1 "$f" | grep -qxF ${KK_UNIT_MARKER} || printf '%s\n' "$f"; done`,
    { timeoutMs: 30_000 },
  );
  const foreign = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)[0];
  if (foreign) {
    throw hostFailure('CommandFailed', `${describeHost(session.target)}: ${foreign} (${unit}) exists and was not installed by kk; kk does not replace another installer's service. Remove it (and its containers) or install on another host.`);
  }
}

/** NFS-backed data: the export mounted on the data directory and kept in /etc/fstab (one managed line). */
export function nfsCommands(nfs: { server: string; export: string }, dir: string): { source: string; mount: string; fstab: string } {
  // mount.nfs splits the source at its last ":" before the path: an IPv6 server goes in brackets.
  const source = `${nfs.server.includes(':') ? `[${nfs.server}]` : nfs.server}:${nfs.export}`;
  const line = `${source} ${dir} nfs defaults,_netdev 0 0 # kk docker-registry`;
  return {
    source,
    mount: sh`mountpoint -q ${dir} || mount -t nfs ${source} ${dir}`,
    fstab: sh`grep -v ' # kk docker-registry$' /etc/fstab > /etc/fstab.kktmp; printf '%s\\n' ${line} >> /etc/fstab.kktmp && mv -f /etc/fstab.kktmp /etc/fstab`,
  };
}

async function mountNfs(session: HostSession, nfs: { server: string; export: string }, dir: string): Promise<string> {
  const c = nfsCommands(nfs, dir);
  const already = (await asRoot(session, sh`mountpoint -q ${dir}`, { timeoutMs: 30_000 })).code === 0;
  await mustRun(session, c.mount, `mounting ${c.source} on ${dir}`);
  await mustRun(session, c.fstab, 'updating /etc/fstab');
  return already ? 'skipped' : 'mounted';
}

/** Health gate: GET /v2/ over TLS verified with the CA (never -k), until it answers or the time is up. */
export async function waitRegistryHealthy(session: HostSession, input: DockerRegistryNodeInput, signal: AbortSignal, timeoutMs = 120_000): Promise<string> {
  const layout = registryLayout(input.versions.registry);
  const scheme = input.plainHttp ? 'http' : 'https';
  const host = input.address.includes(':') ? `[${input.address}]` : input.address;
  const url = `${scheme}://${host}:${input.port}/v2/`;
  await waitAnswers(session, url, `${layout.ssl}/ca.crt`, signal, timeoutMs, async () => {
    const logs = (await asRoot(session, `docker logs --tail 5 docker-registry 2>&1`, { timeoutMs: 15_000 })).stdout.trim();
    return `; container log: ${logs}`;
  });
  return 'healthy';
}
