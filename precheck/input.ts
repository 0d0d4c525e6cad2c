import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { artifactVersion, resolveArtifact } from '../config/artifacts';
import { registryEndpoint } from '../config/derived';
import { groupHosts, type ResolvedConfig } from '../config/load';
import { ARCHES } from '../config/types';
import type { ArtifactName } from '../config/variables';
import { requiredArtifacts } from './evaluate';
import type { ArtifactNeed, PrecheckInput } from './types';

const STORAGE_REQUIRED: Record<'s3' | 'azure' | 'gcs', string[]> = {
  s3: ['bucket', 'region'],
  azure: ['accountname', 'accountkey', 'container'],
  gcs: ['bucket'],
};

/** Precheck's input from the resolved configuration: no registry or storage secret goes in, only their presence. */
export function precheckInput(config: ResolvedConfig): PrecheckInput {
  const vars = config.vars;
  const reg = vars.image_registry;
  const registryHosts = groupHosts(config, 'image_registry');
  const endpoint = registryEndpoint(vars, registryHosts);
  const storage = reg.docker_registry.storage;
  const drivers = (['s3', 'azure', 'gcs'] as const).filter((d) => storage[d] !== undefined);
  const driver = drivers[0] ?? 'filesystem';
  const missingFields =
    driver === 'filesystem'
      ? []
      : STORAGE_REQUIRED[driver].filter((f) => (storage[driver] as Record<string, unknown>)[f] === undefined).map((f) => `image_registry.docker_registry.storage.${driver}.${f}`);
  const nfsMount = driver === 'filesystem' ? storage.filesystem.nfs_mount : undefined;
  const localDataDir = reg.type === 'harbor' ? reg.harbor.data_dir : driver === 'filesystem' && !nfsMount ? storage.filesystem.rootdir : undefined;
  const registryPorts = endpoint.plainHttp ? [endpoint.httpPort] : reg.type === 'harbor' ? [endpoint.httpPort, endpoint.httpsPort] : [endpoint.httpsPort];

  const needed = requiredArtifacts({ type: reg.type, haVip: reg.ha_vip, registryHosts: registryHosts.map((h) => h.name) }) as ArtifactName[];
  const artifactsByArch: Record<string, ArtifactNeed[]> = {};
  const artifactErrors: Record<string, string> = {};
  for (const arch of ARCHES) {
    artifactsByArch[arch] = [];
    for (const name of needed) {
      if (!artifactVersion(name, vars)) continue; // reported once, by the versions check
      const r = resolveArtifact(name, arch, vars);
      if ('error' in r) artifactErrors[`${name} ${arch}`] = r.error;
      else artifactsByArch[arch]!.push(r);
    }
  }

  // The CA this work dir deploys, by the sha256 of the text hosts receive: a host holding another one was installed
  // from another work dir, and init must not silently replace its trust.
  const caFile = path.join(vars.work_dir, 'pki', 'root.crt');
  const caSha256 = fs.existsSync(caFile) ? createHash('sha256').update(fs.readFileSync(caFile, 'utf8')).digest('hex') : undefined;

  return {
    hosts: config.hosts,
    caSha256,
    rotateCa: reg.rotate_ca,
    registryHosts: registryHosts.map((h) => h.name),
    controlPlaneHosts: config.groups.kube_control_plane ?? [],
    nfsHosts: config.groups.nfs ?? [],
    type: reg.type,
    versions: {
      docker: vars.cri.docker_version,
      docker_compose: reg.dockercompose_version,
      harbor: reg.harbor_version,
      docker_registry: reg.docker_registry_version,
      keepalived: reg.keepalived_version,
    },
    haVip: reg.ha_vip,
    registryPorts,
    localDataDir,
    storage: { driver: drivers.length ? driver : 'filesystem', nfsMount, missingFields, drivers },
    thresholds: {
      minMemoryMb: vars.precheck.min_memory_mb,
      minControlPlaneCpus: vars.precheck.min_control_plane_cpus,
      minDataDiskGb: vars.precheck.min_data_disk_gb,
      maxClockSkewSeconds: vars.precheck.max_clock_skew_seconds,
    },
    artifactsByArch,
    artifactErrors,
    s3:
      reg.type === 'docker-registry' && driver === 's3' && storage.s3?.regionendpoint && storage.s3.bucket
        ? { endpoint: storage.s3.regionendpoint, bucket: storage.s3.bucket, region: storage.s3.region, accesskey: storage.s3.accesskey, secretkey: storage.s3.secretkey }
        : undefined,
  };
}
