/** Where a docker registry install lives on a host; pure, so workflows may use it. */

export const REGISTRY_DIR = '/opt/docker-registry';
/** Inside the container, as in the official image. */
export const CONTAINER_DATA = '/var/lib/registry';
export const CONTAINER_SSL = '/etc/docker/registry/ssl';

export interface RegistryLayout {
  version: string;
  dir: string;
  config: string;
  compose: string;
  ssl: string;
  imageTarball: string;
}

export function registryLayout(version: string): RegistryLayout {
  const dir = `${REGISTRY_DIR}/${version}`;
  return { version, dir, config: `${dir}/config.yml`, compose: `${dir}/docker-compose.yml`, ssl: `${dir}/ssl`, imageTarball: `${dir}/docker-registry-${version}.tgz` };
}

