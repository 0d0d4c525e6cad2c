/** Where a Harbor install lives on a host (KubeKey's layout); pure, so workflows may use it. */

export const HARBOR_DIR = '/opt/harbor';
export const HARBOR_UNIT = 'harbor.service';
/** The compose project name Harbor's install.sh gives its services (the installer's directory name). */
export const HARBOR_PROJECT = 'harbor';

export interface HarborLayout {
  version: string;
  dir: string;
  /** The offline installer as uploaded. */
  installerTarball: string;
  /** Where it is extracted: install.sh, prepare, harbor.yml, docker-compose.yml (written by prepare). */
  installerDir: string;
  harborYml: string;
  compose: string;
  ssl: string;
  /** Written once the installer was extracted from exactly this tarball (its sha256 inside). */
  extractedStamp: string;
}

export function harborLayout(version: string): HarborLayout {
  const dir = `${HARBOR_DIR}/${version}`;
  const installerDir = `${dir}/harbor`;
  return {
    version,
    dir,
    installerTarball: `${dir}/harbor-offline-installer-${version}.tgz`,
    installerDir,
    harborYml: `${installerDir}/harbor.yml`,
    compose: `${installerDir}/docker-compose.yml`,
    ssl: `${dir}/ssl`,
    extractedStamp: `${dir}/.kk-extracted`,
  };
}
