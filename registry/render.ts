import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { Variables } from '../config/variables';
import { CONTAINER_DATA, CONTAINER_HTPASSWD, CONTAINER_SSL, registryLayout, type RegistryLayout } from './layout';
import type { DockerRegistryNodeInput } from './types';
import { KK_UNIT_MARKER } from './markers';

/**
 * What the docker registry's hosts run, rendered from settings: the registry's config.yml for the storage driver in
 * use, its compose file and systemd unit, and keepalived's. Pure text, so tests read exactly what hosts get.
 */

export type StorageDriver = 'filesystem' | 's3' | 'azure' | 'gcs';

export function storageDriver(vars: Variables): StorageDriver {
  const s = vars.image_registry.docker_registry.storage;
  return s.s3 ? 's3' : s.azure ? 'azure' : s.gcs ? 'gcs' : 'filesystem';
}

/**
 * The registry's config.yml: the same on every node (one http.secret), TLS unless plain_http, htpasswd auth unless
 * `docker_registry.anonymous` (KubeKey's open registry), deletes only when `docker_registry.delete_enabled`.
 */
export function registryConfig(vars: Variables, httpSecret: string): string {
  const s = vars.image_registry.docker_registry.storage;
  const driver = storageDriver(vars);
  const clean = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const dr = vars.image_registry.docker_registry;
  const storage: Record<string, unknown> = { cache: { blobdescriptor: 'inmemory' }, delete: { enabled: dr.delete_enabled } };
  if (driver === 'filesystem') storage.filesystem = { rootdirectory: CONTAINER_DATA };
  if (driver === 's3') storage.s3 = clean({ ...s.s3, secure: s.s3!.secure ?? !/^http:\/\//.test(s.s3!.regionendpoint ?? 'https://'), v4auth: s.s3!.v4auth ?? true });
  if (driver === 'azure') storage.azure = clean({ ...s.azure });
  if (driver === 'gcs') storage.gcs = clean({ ...s.gcs });
  const http: Record<string, unknown> = { addr: ':5000', secret: httpSecret, headers: { 'X-Content-Type-Options': ['nosniff'] } };
  if (!vars.image_registry.auth.plain_http) http.tls = { certificate: `${CONTAINER_SSL}/server.crt`, key: `${CONTAINER_SSL}/server.key` };
  return stringify({
    version: 0.1,
    log: { fields: { service: 'registry' } },
    storage,
    ...(dr.anonymous ? {} : { auth: { htpasswd: { realm: 'kk-registry', path: CONTAINER_HTPASSWD } } }),
    http,
    health: { storagedriver: { enabled: true, interval: '10s', threshold: 3 } },
  });
}

/** Registry data is bind-mounted from the host, so it survives re-created containers and `docker-compose down`. */
export function registryCompose(layout: RegistryLayout, port: number, hostDataDir: string | undefined, gcsKeyfile?: string, htpasswd = false): string {
  const volumes = [`${layout.config}:/etc/docker/registry/config.yml:ro`, `${layout.ssl}:${CONTAINER_SSL}:ro`];
  if (htpasswd) volumes.push(`${layout.htpasswd}:${CONTAINER_HTPASSWD}:ro`);
  if (hostDataDir) volumes.push(`${hostDataDir}:${CONTAINER_DATA}`);
  if (gcsKeyfile) volumes.push(`${gcsKeyfile}:${gcsKeyfile}:ro`);
  return stringify({
    services: {
      registry: {
        image: `registry:${layout.version}`,
        container_name: 'docker-registry',
        restart: 'always',
        ports: [`${port}:5000`],
        volumes,
      },
    },
  });
}

/** The compose file one docker-registry node gets: its port, data directory, GCS key and htpasswd (unless anonymous). */
export function nodeRegistryCompose(input: DockerRegistryNodeInput): string {
  return registryCompose(registryLayout(input.versions.registry), input.port, input.hostDataDir, input.gcsKeyfile?.path, input.htpasswd !== undefined);
}

export function composeUnit(description: string, project: string, composeFile: string): string {
  return `${KK_UNIT_MARKER}
[Unit]
Description=${description}
After=docker.service
Requires=docker.service

[Service]
Type=simple
ExecStart=/usr/local/bin/docker-compose -p ${project} -f ${composeFile} up
ExecStop=/usr/local/bin/docker-compose -p ${project} -f ${composeFile} stop
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`;
}

export const KEEPALIVED_DIR = '/opt/keepalived';

export interface KeepalivedPeer {
  name: string;
  address: string;
}

export interface KeepalivedSettings {
  version: string;
  vip: string;
  /** Prefix length of the VIP's subnet on this host's interface. */
  prefix: number;
  interface: string;
  self: KeepalivedPeer;
  peers: KeepalivedPeer[];
  /** Distinct per host: the first registry host is preferred. */
  priority: number;
  virtualRouterId: number;
  authPass: string;
  /** Health of this node's registry, checked over TLS with the CA (not a bare TCP port). */
  healthUrl: string;
}

/**
 * Where keepalived's files sit: on the host in `${KEEPALIVED_DIR}/<version>/` under these names, and in the container at
 * these paths. The config goes to osixia/keepalived's assets path (see keepalivedCompose), never to
 * /etc/keepalived/keepalived.conf: that image replaces that path with a link on its first start, which fails on a mount.
 */
export const KEEPALIVED_FILES = { conf: 'keepalived.conf', check: 'check-registry.sh', ca: 'ca.crt', compose: 'docker-compose.yml' } as const;
export const KEEPALIVED_CONTAINER_CONF = '/container/service/keepalived/assets/keepalived.conf';
export const KEEPALIVED_CONTAINER_CHECK = '/etc/keepalived/kk-check-registry.sh';
export const KEEPALIVED_CONTAINER_CA = '/etc/keepalived/ca.crt';
/** The check script's mode on the host (owned by root): with enable_script_security keepalived refuses a script others can write. */
export const KEEPALIVED_CHECK_MODE = 0o700;

/**
 * Unicast VRRP (works where multicast is blocked), distinct priorities, per-install router id and password. A group of
 * one (ha_vip on a single registry host) has no peers: its keepalived holds the VIP alone.
 */
export function keepalivedConf(k: KeepalivedSettings): string {
  return `global_defs {
  router_id kk_${k.self.name.replace(/[^A-Za-z0-9_]/g, '_')}
  script_user root
  enable_script_security
}

vrrp_script registry_health {
  script "${KEEPALIVED_CONTAINER_CHECK}"
  interval 2
  timeout 4
  fall 2
  rise 2
}

vrrp_instance kk_registry {
  state BACKUP
  interface ${k.interface}
  virtual_router_id ${k.virtualRouterId}
  priority ${k.priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass ${k.authPass}
  }
  unicast_src_ip ${k.self.address}
${k.peers.length ? `  unicast_peer {\n${k.peers.map((p) => `    ${p.address}`).join('\n')}\n  }\n` : ''}  virtual_ipaddress {
    ${k.vip}/${k.prefix} dev ${k.interface}
  }
  track_script {
    registry_health
  }
}
`;
}

/** Harbor's health endpoint: a keepalived check against it reads the body (see keepalivedCheckScript). */
const HARBOR_HEALTH_PATH = /\/api\/v2\.0\/health$/;

/** Harbor's components (as /api/v2.0/health names them) that pulls and pushes need; jobservice, trivy and the rest do not. */
export const HARBOR_SERVING_COMPONENTS = ['core', 'database', 'redis', 'registry'] as const;

/**
 * The health check keepalived runs in its container (busybox sh and curl are in osixia/keepalived): this node's registry
 * answers over TLS verified with the CA. The docker registry's /v2/: 200, or 401 once it requires authentication (a
 * healthy answer too). Harbor's /api/v2.0/health: 200, and every component that serves pulls and pushes healthy (its
 * top-level status turns unhealthy with any component, jobservice or trivy included, while pulls still work). Go writes
 * the JSON compact; a component's members are matched in either order (real Harbor writes "name" before "status").
 */
export function keepalivedCheckScript(k: Pick<KeepalivedSettings, 'healthUrl'>): string {
  const url = `'${k.healthUrl.replace(/'/g, `'\\''`)}'`;
  if (HARBOR_HEALTH_PATH.test(k.healthUrl.split('?')[0]!)) {
    return `#!/bin/sh
# Written by kk: does this node's Harbor serve pulls and pushes? keepalived gives the VIP up when it does not.
out=$(/usr/bin/curl -sS --max-time 3 --cacert ${KEEPALIVED_CONTAINER_CA} -w ' %{http_code}' ${url}) || exit 1
[ "\${out##* }" = 200 ] || exit 1
for c in ${HARBOR_SERVING_COMPONENTS.join(' ')}; do
  case "$out" in
    *'"name":"'$c'","status":"healthy"'* | *'"status":"healthy","name":"'$c'"'*) ;;
    *) exit 1 ;;
  esac
done
exit 0
`;
  }
  return `#!/bin/sh
# Written by kk: is this node's registry healthy? keepalived gives the VIP up when it is not.
code=$(/usr/bin/curl -sS --max-time 3 --cacert ${KEEPALIVED_CONTAINER_CA} -o /dev/null -w '%{http_code}' ${url}) || exit 1
[ "$code" = 200 ] || [ "$code" = 401 ]
`;
}

/**
 * keepalived as osixia/keepalived takes its config: mounted at its assets path and started with --copy-service, so
 * the image copies its service directory and works on the copy (the mounted file is never rewritten). That copy is
 * made once per container, so a label carries a digest of the config and the check: when either changes, compose
 * recreates the container instead of restarting one that would keep the old copy.
 */
export function keepalivedCompose(k: KeepalivedSettings, dir: string): string {
  const digest = createHash('sha256').update(keepalivedConf(k)).update('\0').update(keepalivedCheckScript(k)).digest('hex');
  return stringify({
    services: {
      keepalived: {
        image: `osixia/keepalived:${k.version}`,
        container_name: 'kk-keepalived',
        restart: 'always',
        network_mode: 'host',
        cap_add: ['NET_ADMIN', 'NET_BROADCAST', 'NET_RAW'],
        command: '--copy-service',
        labels: { 'io.kubekey.kk.keepalived-config-sha256': digest },
        volumes: [
          `${dir}/${KEEPALIVED_FILES.conf}:${KEEPALIVED_CONTAINER_CONF}:ro`,
          `${dir}/${KEEPALIVED_FILES.check}:${KEEPALIVED_CONTAINER_CHECK}:ro`,
          `${dir}/${KEEPALIVED_FILES.ca}:${KEEPALIVED_CONTAINER_CA}:ro`,
        ],
      },
    },
  });
}
