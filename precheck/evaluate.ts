import type { ArtifactStatus, CheckResult, HostProbe, PrecheckInput, PrecheckReport } from './types';
import { interfaceFor } from './cidr';
import { fixFor } from './fixes';

/**
 * Precheck's judgements: pure functions from the configuration and what the read-only probes saw to pass / warn /
 * fail, each failure with a fix. The workflow calls them; so do unit tests.
 */

const VERSION_KEYS: Record<string, string> = {
  harbor: 'image_registry.harbor_version',
  docker_registry: 'image_registry.docker_registry_version',
  docker: 'cri.docker_version',
  docker_compose: 'image_registry.dockercompose_version',
  keepalived: 'image_registry.keepalived_version',
};

export function requiredArtifacts(input: Pick<PrecheckInput, 'type' | 'haVip' | 'registryHosts'>): string[] {
  const names = ['docker', 'docker_compose', input.type === 'harbor' ? 'harbor' : 'docker_registry'];
  if (input.haVip) names.push('keepalived');
  return names;
}

export function configChecks(input: PrecheckInput): CheckResult[] {
  const out: CheckResult[] = [];
  const add = (check: string, status: CheckResult['status'], message: string, fix?: string) => out.push({ host: null, check, status, message, ...(fix && { fix }) });

  if (input.registryHosts.length === 0) add('inventory', 'fail', 'the image_registry group has no hosts', 'list the registry hosts under spec.groups.image_registry.hosts');
  else add('inventory', 'pass', `image_registry: ${input.registryHosts.join(', ')}`);

  const missing = requiredArtifacts(input).filter((n) => !input.versions[n]);
  if (missing.length) {
    const keys = missing.map((n) => VERSION_KEYS[n]!);
    add('versions', 'fail', `not set: ${keys.join(', ')}`, `--set ${keys.map((k) => `${k}=<version>`).join(',')}`);
  } else add('versions', 'pass', requiredArtifacts(input).map((n) => `${n} ${input.versions[n]}`).join(', '));

  if (input.haVip) {
    if (input.registryHosts.length < 2) add('ha', 'warn', `image_registry.ha_vip is set but only one registry host: its keepalived holds the VIP alone, which adds no availability`, 'add hosts to the image_registry group, or drop ha_vip (kk then removes its keepalived and the endpoint becomes the host\'s address)');
    else add('ha', 'pass', `${input.registryHosts.length} registry hosts behind ${input.haVip}`);
    if (input.registryHosts.length > 1 && input.type === 'docker-registry') {
      const shared = input.storage.driver !== 'filesystem' || input.storage.nfsMount !== undefined;
      if (!shared) add('storage', 'fail', 'HA docker-registry needs shared storage: with local filesystem storage every node would hold different images', 'set image_registry.docker_registry.storage.s3 (or azure, gcs), or filesystem.nfs_mount with one nfs host');
    }
  }
  if (input.storage.drivers.length > 1) add('storage', 'fail', `several storage drivers are set (${input.storage.drivers.join(', ')}); exactly one is used`, 'keep one of image_registry.docker_registry.storage.{s3,azure,gcs}');
  if (input.type === 'docker-registry' && input.storage.missingFields.length) {
    add('storage', 'fail', `storage ${input.storage.driver} lacks ${input.storage.missingFields.join(', ')}`, `--set ${input.storage.missingFields.map((f) => `${f}=...`).join(',')}`);
  }
  if (input.type === 'docker-registry' && input.storage.nfsMount !== undefined && input.nfsHosts.length !== 1) {
    add('storage', 'fail', `filesystem.nfs_mount needs exactly one host in the nfs group (found ${input.nfsHosts.length})`, 'put the NFS server alone in spec.groups.nfs.hosts');
  }
  if (!out.some((c) => c.check === 'storage')) add('storage', 'pass', input.type === 'harbor' ? 'Harbor keeps its data locally on each node' : `${input.storage.driver}${input.storage.nfsMount ? ` on NFS ${input.storage.nfsMount}` : ''}`);
  return out;
}

/** A host that could not be probed at all: the reason is the one check that matters. */
export function unreachableChecks(host: string, error: { type: string; message: string }): CheckResult[] {
  return [{ host, check: 'ssh', status: 'fail', message: `${error.type}: ${error.message}`, fix: fixFor(error.type, host).replace(/, then kk resume.*$/, '') }];
}

/**
 * Whether kk's keepalived holds the VIP on any probed host: a registry host, or a former member leaving the group
 * (the install removes its keepalived). Something answering on the VIP is then no foreign holder.
 */
export function vipHeldByKk(probes: readonly (HostProbe | undefined)[]): boolean {
  return probes.some((p) => p?.vip?.heldHere && p.vip.keepalivedHere);
}

export function hostChecks(input: PrecheckInput, host: string, probe: HostProbe, vipHeldByOurKeepalived = false): CheckResult[] {
  const out: CheckResult[] = [];
  const add = (check: string, status: CheckResult['status'], message: string, fix?: string) => out.push({ host, check, status, message, ...(fix && { fix }) });
  const f = probe.facts;
  const isRegistry = input.registryHosts.includes(host);
  const t = input.thresholds;
  add('ssh', 'pass', 'login and sudo work');

  if (f.os.family === 'unknown') add('os', 'fail', `${f.os.prettyName} is neither deb- nor rpm-compatible (ID=${f.os.id}, ID_LIKE=${f.os.idLike.join(' ') || '-'})`, 'use a Debian/Ubuntu or RHEL/CentOS-family host');
  else add('os', 'pass', `${f.os.prettyName} (${f.os.family})`);
  if (!f.arch) add('arch', 'fail', `architecture ${f.machine} is not supported`, 'use an amd64 or arm64 host');
  else add('arch', 'pass', f.arch);

  if (f.memoryMb < t.minMemoryMb) add('memory', 'warn', `${f.memoryMb} MB memory, below ${t.minMemoryMb} MB: the registry will be limited`, 'add memory (precheck.min_memory_mb sets the threshold)');
  else add('memory', 'pass', `${f.memoryMb} MB`);
  if (input.controlPlaneHosts.includes(host)) {
    if (f.cpus < t.minControlPlaneCpus) add('cpu', 'fail', `${f.cpus} CPUs on a kube_control_plane host, at least ${t.minControlPlaneCpus} needed`, 'add CPUs (precheck.min_control_plane_cpus sets the threshold)');
    else add('cpu', 'pass', `${f.cpus} CPUs`);
  }

  if (isRegistry && input.localDataDir) {
    const fs = [...f.filesystems].filter((x) => input.localDataDir === x.mount || input.localDataDir!.startsWith(x.mount.endsWith('/') ? x.mount : `${x.mount}/`)).sort((a, b) => b.mount.length - a.mount.length)[0];
    if (!fs) add('disk', 'warn', `no filesystem found for ${input.localDataDir}`);
    else if (fs.freeMb < t.minDataDiskGb * 1024) add('disk', 'fail', `${(fs.freeMb / 1024).toFixed(1)} GB free on ${fs.mount} (holds ${input.localDataDir}), at least ${t.minDataDiskGb} GB needed`, `free space on ${fs.mount}, or point the data elsewhere (precheck.min_data_disk_gb sets the threshold)`);
    else add('disk', 'pass', `${(fs.freeMb / 1024).toFixed(1)} GB free on ${fs.mount} for ${input.localDataDir}`);
  }

  if (isRegistry) {
    const ours = f.servicesByKk.harbor || f.servicesByKk.dockerRegistry;
    const taken = input.registryPorts.filter((p) => probe.listening.includes(p));
    if (taken.length && !ours) {
      add('ports', 'fail', `port${taken.length > 1 ? 's' : ''} ${taken.map((p) => `${p} (${probe.portHolders[p] ?? 'unknown process'})`).join(', ')} already in use`, `stop what listens there, or choose other ports (image_registry.https_port / http_port)`);
    } else add('ports', 'pass', taken.length ? `${taken.join(', ')} held by the existing registry install` : `${input.registryPorts.join(', ')} free`);
  }

  if (isRegistry && input.s3 && probe.s3) {
    const where = `${input.s3.endpoint}/${input.s3.bucket}`;
    if (probe.s3.status && probe.s3.status >= 200 && probe.s3.status < 300) add('storage', 'pass', `S3 bucket ${where} answers with the configured keys`);
    else if (probe.s3.status === 403 || probe.s3.status === 401) add('storage', 'fail', `S3 at ${where} refuses the configured keys (${probe.s3.status})`, 'check image_registry.docker_registry.storage.s3.accesskey and secretkey');
    else if (probe.s3.status === 404) add('storage', 'fail', `S3 bucket ${input.s3.bucket} does not exist at ${input.s3.endpoint}`, 'create the bucket, or fix image_registry.docker_registry.storage.s3.bucket');
    else add('storage', 'fail', `cannot reach S3 at ${where}: ${probe.s3.error ?? `HTTP ${probe.s3.status}`}`, 'check image_registry.docker_registry.storage.s3.regionendpoint and the network from the registry hosts');
  }

  // A registry host must reach its peers' registry ports (health checks, replication); any other host only warns.
  const unreachable = Object.entries(probe.reach).filter(([, s]) => s === 'unreachable').map(([target]) => target);
  if (unreachable.length) {
    add('connectivity', isRegistry ? 'fail' : 'warn', `cannot reach ${unreachable.join(', ')}`, isRegistry ? 'open the registry ports between the registry hosts (firewall, routes)' : 'open the path to the registry hosts before this host pulls from the registry');
  } else if (Object.keys(probe.reach).length) add('connectivity', 'pass', `reaches ${Object.keys(probe.reach).length} registry ports`);

  if (Math.abs(probe.clockOffsetSeconds) > t.maxClockSkewSeconds) add('clock', 'fail', `clock is ${probe.clockOffsetSeconds.toFixed(0)} s off this machine's (limit ${t.maxClockSkewSeconds} s)`, 'synchronise clocks (chrony or systemd-timesyncd)');
  else add('clock', 'pass', `${Math.round(probe.clockOffsetSeconds) || 0} s from this machine`);

  if (isRegistry && input.haVip) {
    const iface = interfaceFor(f.interfaces, input.haVip);
    if (!iface) add('vip', 'fail', `image_registry.ha_vip ${input.haVip} is in no subnet of this host (${f.interfaces.filter((i) => i.name !== 'lo').map((i) => `${i.name} ${i.cidrs.join(' ')}`).join('; ')})`, 'choose a free address in the registry hosts\' common subnet');
    else if (probe.vip?.answered && !vipHeldByOurKeepalived) add('vip', 'fail', `${input.haVip} is already in use: something answers on it`, 'choose a free address for image_registry.ha_vip');
    else add('vip', 'pass', `${input.haVip} on ${iface.name} (${iface.cidr})${probe.vip?.answered ? ', held by our keepalived' : ', free'}`);
  }

  if (isRegistry) out.push(...existingChecks(input, host, probe));
  return out;
}

/** What init will do with what is already on a registry host, said exactly; what it must not touch fails here. */
function existingChecks(input: PrecheckInput, host: string, probe: HostProbe): CheckResult[] {
  const out: CheckResult[] = [];
  const add = (check: string, status: CheckResult['status'], message: string, fix?: string) => out.push({ host, check, status, message, ...(fix && { fix }) });
  const f = probe.facts;
  const want = input.versions.docker;
  const have = f.docker;
  if (!have) add('existing', 'pass', `docker: install ${want ?? ''} (binaries to /usr/local/bin, containerd.service and docker.service, /etc/docker/daemon.json merged into what is there)`);
  else if (!have.managedByKk) {
    add('existing', 'pass', `docker: keep ${have.version} at ${have.path} (not installed by kk: kk replaces none of its binaries or units and does not restart it; daemon.json only gains insecure-registries with plain_http, backed up first)`);
  } else if (want && !(have.version === want || have.version.startsWith(`${want}+`) || have.version.startsWith(`${want}-`))) {
    add('existing', 'pass', `docker: update ${have.version} to ${want} (installed by kk; binaries replaced and docker restarted)`);
  } else add('existing', 'pass', `docker: keep ${have.version} (installed by kk)`);
  const wantCompose = input.versions.docker_compose;
  const haveCompose = f.dockerCompose?.version;
  add('existing', 'pass', `docker-compose: ${!haveCompose ? `install ${wantCompose ?? ''}` : wantCompose && haveCompose.replace(/^v/, '') !== wantCompose.replace(/^v/, '') ? `replace ${haveCompose} with ${wantCompose} in /usr/local/bin` : `keep ${haveCompose}`}`);
  if (input.type === 'harbor') out.push(...harborVersionChecks(host, have && !have.managedByKk ? have.version : want, haveCompose && !wantCompose ? haveCompose : wantCompose));
  for (const [unit, present, ours] of [
    ['harbor.service', f.services.harbor, f.servicesByKk.harbor],
    ['docker-registry.service', f.services.dockerRegistry, f.servicesByKk.dockerRegistry],
  ] as const) {
    if (present && ours) add('existing', 'pass', `${unit} installed by kk: init keeps the data and applies changed settings`);
    else if (present) add('existing', 'fail', `${unit} exists but was not installed by kk`, `kk does not take over another installer's registry: remove ${unit} (and its containers) or use another host`);
  }
  if (input.storage.nfsMount !== undefined && input.type === 'docker-registry') {
    if (probe.nfsClient) add('nfs', 'pass', 'NFS client installed');
    else add('nfs', 'fail', 'no NFS client (mount.nfs) for filesystem.nfs_mount', f.os.family === 'rpm' ? 'yum install -y nfs-utils' : 'apt-get install -y nfs-common');
  }
  const foreignCa = Object.entries(probe.deployedCa).filter(([, hash]) => hash !== input.caSha256);
  if (foreignCa.length && !input.rotateCa) {
    add('ca', 'fail', `${foreignCa.map(([file]) => file).join(', ')} ${foreignCa.length > 1 ? 'hold a CA' : 'holds a CA'} that ${input.caSha256 ? "is not this work dir's pki/root.crt" : 'this work dir does not have (it has no pki/ yet)'}: the registry was installed from another work dir`, 'run kk with the --workdir that installed it, or --set image_registry.rotate_ca=true to replace the CA (every client must then trust the new one)');
  } else if (foreignCa.length) add('ca', 'warn', `the CA on this host will be replaced (image_registry.rotate_ca=true)`);
  else if (Object.keys(probe.deployedCa).length) add('ca', 'pass', "the registry CA on this host is this work dir's");
  return out;
}

/** Harbor's install.sh refuses Docker before 20.10.10 and docker-compose before 1.18.0 (its common.sh checks). */
const HARBOR_MIN = { docker: '20.10.10', compose: '1.18.0' };

function harborVersionChecks(host: string, docker: string | undefined, compose: string | undefined): CheckResult[] {
  const out: CheckResult[] = [];
  for (const [what, version, min] of [['docker', docker, HARBOR_MIN.docker], ['docker-compose', compose, HARBOR_MIN.compose]] as const) {
    if (!version) continue;
    if (versionBelow(version, min)) out.push({ host, check: 'harbor', status: 'fail', message: `Harbor's installer needs ${what} ${min} or later; this host would run ${version}`, fix: `use ${what} ${min} or later (cri.docker_version / image_registry.dockercompose_version), or remove the old one` });
    else out.push({ host, check: 'harbor', status: 'pass', message: `${what} ${version} is one Harbor's installer accepts (${min}+)` });
  }
  return out;
}

/** Numeric comparison of dotted versions, ignoring a leading `v` and anything after the numbers (`+dfsg1`, `-ce`). */
export function versionBelow(version: string, min: string): boolean {
  const parts = (v: string) => v.replace(/^v/, '').split(/[^0-9.]/)[0]!.split('.').map((n) => Number(n) || 0);
  const [a, b] = [parts(version), parts(min)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

export function artifactChecks(statuses: ArtifactStatus[], errors: Record<string, string>): CheckResult[] {
  const out: CheckResult[] = [];
  for (const [what, error] of Object.entries(errors)) out.push({ host: null, check: 'artifact', status: 'fail', message: `${what}: ${error}` });
  for (const s of statuses) {
    const label = `${s.need.name} ${s.need.version} ${s.need.arch}`;
    if (s.error) out.push({ host: null, check: 'artifact', status: 'fail', message: `${label}: ${s.error}` });
    else if (s.sha256 && s.sha256.expected !== s.sha256.actual) {
      out.push({ host: null, check: 'artifact', status: 'fail', message: `${label}: ${s.need.localPath} has sha256 ${s.sha256.actual}, its .sha256 file says ${s.sha256.expected}`, fix: 'download the file again' });
    } else if (s.present) out.push({ host: null, check: 'artifact', status: 'pass', message: `${label}: ${s.need.localPath}${s.sha256 ? ' (sha256 verified)' : ''}` });
    else if (s.need.url && s.reachableUrl) out.push({ host: null, check: 'artifact', status: 'pass', message: `${label}: will be downloaded from ${s.need.url}` });
    else if (s.need.url) out.push({ host: null, check: 'artifact', status: 'fail', message: `${label}: ${s.need.url} cannot be downloaded, and ${s.need.localPath} does not exist`, fix: `put the file at ${s.need.localPath}, or --set ${s.need.overrideFlag}=<url or path>` });
    else out.push({ host: null, check: 'artifact', status: 'fail', message: `${label}: missing: ${s.need.localPath}${s.worker ? ` (on worker ${s.worker})` : ''}`, fix: `put the file there, or --set ${s.need.overrideFlag}=<url, absolute path or file name>` });
  }
  return out;
}

export function report(checks: CheckResult[], arches: string[]): PrecheckReport {
  return { ok: !checks.some((c) => c.status === 'fail'), checks, arches };
}
