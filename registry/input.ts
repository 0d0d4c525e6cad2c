import { randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import { resolveArtifact } from '../config/artifacts';
import { registryAddress, registryEndpoint } from '../config/derived';
import { ConfigError } from '../config/errors';
import { hostAddress } from '../config/hosts';
import { groupHosts, type ResolvedConfig } from '../config/load';
import { readOrCreateSecret } from '../config/secrets';
import { ARCHES } from '../config/types';
import type { ArtifactName } from '../config/variables';
import { ensureRegistryPki } from '../pki';
import { precheckInput } from '../precheck/input';
import { registryHtpasswd } from './htpasswd';
import { registryConfig, storageDriver } from './render';
import type { HostTarget } from '../config/hosts';
import type { ArchArtifacts, DockerRegistryNodeInput, HarborNodeInput, InitRegistryInput, RegistryNodeInput } from './types';

/** The artifacts of one arch, when all of them resolve (precheck reports the ones that do not). */
function archArtifacts(config: ResolvedConfig, withKeepalived: boolean): Record<string, ArchArtifacts> {
  const out: Record<string, ArchArtifacts> = {};
  for (const arch of ARCHES) {
    const path = (name: ArtifactName) => {
      const r = resolveArtifact(name, arch, config.vars);
      return 'error' in r ? undefined : r.localPath;
    };
    const [docker, compose, registry] = [path('docker'), path('docker_compose'), path(config.vars.image_registry.type === 'harbor' ? 'harbor' : 'docker_registry')];
    const keepalivedImage = withKeepalived ? path('keepalived') : undefined;
    if (docker && compose && registry && (!withKeepalived || keepalivedImage)) out[arch] = { docker, compose, registry, keepalivedImage };
  }
  return out;
}

/**
 * Everything `kk init registry` needs, from the resolved configuration: precheck's input, the PKI (made or reused in
 * <work_dir>/pki), the rendered registry config with a shared http.secret, and per-install VRRP settings.
 */
export async function initRegistryInput(config: ResolvedConfig): Promise<InitRegistryInput> {
  const vars = config.vars;
  const reg = vars.image_registry;
  const hosts = groupHosts(config, 'image_registry');
  if (!hosts.length) throw new ConfigError(['spec.groups.image_registry: no hosts: list the registry hosts there (nothing would be installed)']);
  const endpoint = registryEndpoint(vars, hosts);
  const port = endpoint.plainHttp ? endpoint.httpPort : endpoint.httpsPort;
  // ha_vip is the endpoint clients use, so kk's keepalived holds it even on one registry host (as KubeKey deploys it):
  // shrinking an HA set to one host keeps the endpoint working. Without ha_vip, no host runs kk's keepalived.
  const ha = reg.ha_vip || undefined;

  // Every name and address a client may use: the endpoint, the VIP, each registry host's name and addresses, loopback.
  const sans = ['localhost', '127.0.0.1', endpoint.host ?? '', reg.ha_vip ?? '', ...hosts.flatMap((h) => [h.name, h.address, h.internalIPv4 ?? '', h.internalIPv6 ?? ''])];
  const pki = await ensureRegistryPki(vars.work_dir, sans.filter(Boolean));
  const trustNames = [...new Set([endpoint.address!, ...hosts.map((h) => registryAddress(hostAddress(h), port, endpoint.plainHttp))])];
  const artifacts = archArtifacts(config, Boolean(ha));
  const common = (host: (typeof hosts)[number]) => ({
    host,
    versions: { docker: vars.cri.docker_version ?? '', compose: reg.dockercompose_version ?? '', registry: (reg.type === 'harbor' ? reg.harbor_version : reg.docker_registry_version) ?? '' },
    artifacts,
    port,
    plainHttp: endpoint.plainHttp,
    pki: { caCert: pki.caCert, serverCert: pki.serverCert, serverKey: pki.serverKey },
    trustNames,
    address: hostAddress(host),
    vip: ha,
  });
  const nodes: RegistryNodeInput[] = reg.type === 'harbor' ? harborNodes(config, hosts, endpoint, Boolean(ha) && hosts.length > 1, common) : dockerRegistryNodes(config, hosts, common);
  return {
    precheck: precheckInput(config),
    nodes,
    endpoint: endpoint.address!,
    localTrust: config.hosts.find((h) => h.local && !hosts.includes(h)),
    ha: ha
      ? {
          vip: ha,
          keepalivedVersion: reg.keepalived_version ?? '',
          virtualRouterId: reg.keepalived.virtual_router_id ?? Number(readOrCreateSecret(vars.work_dir, 'keepalived_virtual_router_id', () => String(randomInt(1, 256))).value),
          // keepalived reads at most 8 characters of a PASS password.
          authPass: readOrCreateSecret(vars.work_dir, 'keepalived_auth_pass', () => randomBytes(6).toString('base64url')).value,
          members: hosts.map((h) => ({ name: h.name, address: hostAddress(h) })),
        }
      : undefined,
  };
}

type Common = (host: HostTarget) => Omit<DockerRegistryNodeInput, 'type' | 'registryConfig'>;

/** docker-registry nodes: one config.yml (a shared http.secret), htpasswd auth unless anonymous, the storage driver's data. */
function dockerRegistryNodes(config: ResolvedConfig, hosts: HostTarget[], common: Common): DockerRegistryNodeInput[] {
  const vars = config.vars;
  const reg = vars.image_registry;
  const httpSecret = readOrCreateSecret(vars.work_dir, 'docker_registry_http_secret', () => randomBytes(24).toString('base64url')).value;
  const driver = storageDriver(vars);
  const fsStorage = reg.docker_registry.storage.filesystem;
  const nfsHost = groupHosts(config, 'nfs')[0];
  const gcsKeyfile = driver === 'gcs' && reg.docker_registry.storage.gcs?.keyfile ? reg.docker_registry.storage.gcs.keyfile : undefined;
  if (gcsKeyfile && !fs.existsSync(gcsKeyfile)) throw new ConfigError([`image_registry.docker_registry.storage.gcs.keyfile: ${gcsKeyfile} does not exist on this machine`]);
  const credentials = reg.docker_registry.anonymous ? undefined : { username: reg.auth.username, password: reg.auth.password ?? '' };
  if (credentials && !credentials.password) throw new ConfigError(['image_registry.auth.password: not set and not generated; set it, or image_registry.docker_registry.anonymous=true for an open registry']);
  const htpasswd = credentials ? registryHtpasswd(vars.work_dir, credentials.username, credentials.password) : undefined;
  const registryConfigText = registryConfig(vars, httpSecret);
  return hosts.map((host) => ({
    ...common(host),
    type: 'docker-registry',
    registryConfig: registryConfigText,
    htpasswd,
    credentials,
    hostDataDir: driver === 'filesystem' ? fsStorage.rootdir : undefined,
    nfs: driver === 'filesystem' && fsStorage.nfs_mount && nfsHost ? { server: hostAddress(nfsHost), export: fsStorage.nfs_mount } : undefined,
    gcsKeyfile: gcsKeyfile ? { path: gcsKeyfile, content: fs.readFileSync(gcsKeyfile, 'utf8') } : undefined,
  }));
}

/**
 * Harbor nodes: each its own Harbor (in HA, named by its own address; replication keeps them in sync). The admin
 * password is configured or generated once; the database password and the replication robot's secret are generated
 * once and kept 0600 in the work dir: none of Harbor's default passwords is used.
 */
function harborNodes(config: ResolvedConfig, hosts: HostTarget[], endpoint: ReturnType<typeof registryEndpoint>, ha: boolean, common: Common): HarborNodeInput[] {
  const vars = config.vars;
  const reg = vars.image_registry;
  const adminPassword = reg.auth.password;
  if (!adminPassword) throw new ConfigError(['image_registry.auth.password: not set and not generated; set the Harbor admin password']);
  // Harbor wants upper, lower case and a digit in passwords and robot secrets: the suffix guarantees them.
  const strong = () => `${randomBytes(18).toString('base64url')}Aa1`;
  const databasePassword = readOrCreateSecret(vars.work_dir, 'harbor_database_password', strong).value;
  const replicationSecret = readOrCreateSecret(vars.work_dir, 'harbor_replication_secret', strong).value;
  return hosts.map((host) => ({
    ...common(host),
    type: 'harbor',
    credentials: { username: reg.auth.username, password: adminPassword },
    harbor: {
      hostname: ha ? hostAddress(host) : endpoint.host!,
      httpPort: endpoint.httpPort,
      httpsPort: endpoint.httpsPort,
      dataDir: reg.harbor.data_dir,
      adminPassword,
      databasePassword,
      replicationSecret,
    },
  }));
}
