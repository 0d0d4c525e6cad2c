import { z } from 'zod';
import { canonicalIpAddress, emptyAsUnset, flexibleBoolean, numberLike, portNumber, secretString, versionString } from './types';

/** Artifact names as KubeKey's `artifact.artifact_url.<name>` / `download.artifact_url.<name>` spell them. */
export const ARTIFACT_NAMES = ['docker', 'docker_compose', 'harbor', 'docker_registry', 'keepalived'] as const;
export type ArtifactName = (typeof ARTIFACT_NAMES)[number];

const perArchUrls = z.object({ amd64: z.string().min(1).optional(), arm64: z.string().min(1).optional() }).strict();

const s3Storage = z.object({
  accesskey: secretString.optional(),
  secretkey: secretString.optional(),
  region: z.string().default('us-east-1'),
  bucket: z.string().optional(),
  regionendpoint: z.string().optional(),
  rootdirectory: z.string().optional(),
  secure: flexibleBoolean.optional(),
  forcepathstyle: flexibleBoolean.optional(),
  v4auth: flexibleBoolean.optional(),
});
const azureStorage = z.object({
  accountname: z.string().optional(),
  accountkey: secretString.optional(),
  container: z.string().optional(),
  realm: z.string().optional(),
});
const gcsStorage = z.object({ bucket: z.string().optional(), keyfile: z.string().optional(), rootdirectory: z.string().optional() });

/**
 * The variables this tool reads, under KubeKey v4's canonical names, with KubeKey's defaults
 * (except: no default passwords). Unknown keys are allowed here and warned about by the loader.
 */
export const variablesSchema = z.object({
  work_dir: z.string().min(1),
  binary_dir: z.string().min(1).optional(),
  image_registry: z
    .object({
      type: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['harbor', 'docker-registry']).default('harbor')),
      ha_vip: emptyAsUnset(canonicalIpAddress),
      harbor_version: emptyAsUnset(versionString),
      docker_registry_version: emptyAsUnset(versionString),
      dockercompose_version: emptyAsUnset(versionString),
      keepalived_version: emptyAsUnset(versionString),
      /** Replace a registry CA found on the hosts that this work dir did not make (another work dir installed them). */
      rotate_ca: flexibleBoolean.default(false),
      http_port: emptyAsUnset(portNumber),
      https_port: emptyAsUnset(portNumber),
      auth: z
        .object({
          registry: emptyAsUnset(z.string()),
          username: z.string().min(1).default('admin'),
          password: emptyAsUnset(secretString),
          plain_http: flexibleBoolean.default(false),
        })
        .prefault({}),
      harbor: z
        .object({
          data_dir: z.string().min(1).default('/var/lib/harbor/data'),
          /** Projects `kk artifact images --push` creates are private unless this is set (KubeKey makes them public). */
          public_projects: flexibleBoolean.default(false),
        })
        .prefault({}),
      docker_registry: z
        .object({
          /** KubeKey's registry takes anonymous pushes; kk requires image_registry.auth unless this is set. */
          anonymous: flexibleBoolean.default(false),
          /** Manifest and blob deletion through the API; off unless asked for. */
          delete_enabled: flexibleBoolean.default(false),
          storage: z
            .object({
              filesystem: z
                .object({
                  rootdir: z.string().min(1).default('/var/lib/docker-registry/data'),
                  nfs_mount: emptyAsUnset(z.string()),
                })
                .prefault({}),
              s3: s3Storage.optional(),
              azure: azureStorage.optional(),
              gcs: gcsStorage.optional(),
            })
            .prefault({}),
        })
        .prefault({}),
      keepalived: z
        .object({
          virtual_router_id: emptyAsUnset(numberLike(z.number().int().min(1, 'must be 1-255').max(255, 'must be 1-255'))),
        })
        .prefault({}),
    })
    .prefault({}),
  cri: z.object({ docker_version: emptyAsUnset(versionString) }).prefault({}),
  artifact: z
    .object({
      artifact_url: z.object(Object.fromEntries(ARTIFACT_NAMES.map((n) => [n, perArchUrls.optional()])) as Record<ArtifactName, z.ZodOptional<typeof perArchUrls>>).prefault({}),
    })
    .prefault({}),
  /** KubeKey's list of images to put into the registry (`kk artifact images --push` pushes these from binary_dir/images). */
  image_manifests: z.array(z.string().min(1)).default([]),
  download: z
    .object({
      images: z.object({ manifests: z.array(z.string().min(1)).default([]) }).prefault({}),
      artifact_url: z.object(Object.fromEntries(ARTIFACT_NAMES.map((n) => [n, emptyAsUnset(z.string())])) as Record<ArtifactName, ReturnType<typeof emptyAsUnset<z.ZodString>>>).prefault({}),
    })
    .prefault({}),
  precheck: z
    .object({
      min_memory_mb: numberLike(z.number().int().min(0)).default(8192),
      min_control_plane_cpus: numberLike(z.number().int().min(0)).default(4),
      min_data_disk_gb: numberLike(z.number().min(0)).default(100),
      max_clock_skew_seconds: numberLike(z.number().min(0)).default(5),
    })
    .prefault({}),
});

export type Variables = z.output<typeof variablesSchema>;

/** The seed document's top-level keys, accepted as aliases of the canonical ones. */
export const VARIABLE_ALIASES: Record<string, string> = {
  harbor_version: 'image_registry.harbor_version',
  docker_version: 'cri.docker_version',
  dockercompose_version: 'image_registry.dockercompose_version',
  docker_registry_version: 'image_registry.docker_registry_version',
  keepalived_version: 'image_registry.keepalived_version',
};

/** Values never printed, logged or put in clear into workflow history. */
export const SECRET_VARIABLE_PATHS = [
  'image_registry.auth.password',
  'image_registry.docker_registry.storage.s3.accesskey',
  'image_registry.docker_registry.storage.s3.secretkey',
  'image_registry.docker_registry.storage.azure.accountkey',
];
