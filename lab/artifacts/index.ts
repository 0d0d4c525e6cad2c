import * as fs from 'node:fs';
import type { LabFile } from '../lab-file';
import { ARTIFACT_CACHE } from './common';
import { composeBinary } from './compose';
import { dockerStaticTarball } from './docker-static';
import { harborInstaller } from './harbor-installer';
import { imageLayout } from './images';
import { keepalivedImage } from './keepalived-image';
import { registryImage } from './registry-image';

/** Settings that fit the lab's small nodes: the precheck thresholds are lowered, everything else is as in production. */
const SMALL_HOSTS = 'precheck.min_memory_mb=256,precheck.min_control_plane_cpus=1,precheck.min_data_disk_gb=1';

/** Builds (once, cached by content) every artifact the lab offers and places them in its binary_dir. */
export async function ensureArtifacts(): Promise<{ set: LabFile['set'] }> {
  fs.mkdirSync(ARTIFACT_CACHE, { recursive: true });
  const docker = await dockerStaticTarball();
  const registry = await registryImage();
  const compose = await composeBinary();
  // Placed as 2.0.20 (the version the seed tells users to pull; the lab's --set names it) and as 2.2.7.
  const keepalived = await keepalivedImage();
  const harbor = await harborInstaller(registry.tarball, registry.version);
  // <binary_dir>/images: what `kk artifact images --push` fills the registry from.
  await imageLayout();
  const common = `docker_version=${docker.version},dockercompose_version=${compose.version},keepalived_version=${keepalived.version},${SMALL_HOSTS}`;
  return {
    set: {
      'docker-registry': `image_registry.type=docker-registry,docker_registry_version=${registry.version},${common}`,
      harbor: `harbor_version=${harbor.version},${common}`,
    },
  };
}
