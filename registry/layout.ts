/** Where a docker registry install lives on a host; pure, so workflows may use it. */

export const REGISTRY_DIR = '/opt/docker-registry';
/** Inside the container, as in the official image. */
export const CONTAINER_DATA = '/var/lib/registry';
export const CONTAINER_SSL = '/etc/docker/registry/ssl';
export const CONTAINER_HTPASSWD = '/etc/docker/registry/auth/htpasswd';

export interface RegistryLayout {
  version: string;
  dir: string;
  config: string;
  compose: string;
  ssl: string;
  /** bcrypt htpasswd of the registry's user (image_registry.auth), mounted read-only into the container. */
  htpasswd: string;
  imageTarball: string;
}

export function registryLayout(version: string): RegistryLayout {
  const dir = `${REGISTRY_DIR}/${version}`;
  return { version, dir, config: `${dir}/config.yml`, compose: `${dir}/docker-compose.yml`, ssl: `${dir}/ssl`, htpasswd: `${dir}/auth/htpasswd`, imageTarball: `${dir}/docker-registry-${version}.tgz` };
}

