import * as path from 'node:path';
import type { Arch } from './types';
import type { ArtifactName, Variables } from './variables';

/** Where each artifact's version comes from. */
export const ARTIFACT_VERSION_KEYS: Record<ArtifactName, string> = {
  docker: 'cri.docker_version',
  docker_compose: 'image_registry.dockercompose_version',
  harbor: 'image_registry.harbor_version',
  docker_registry: 'image_registry.docker_registry_version',
  keepalived: 'image_registry.keepalived_version',
};

export function artifactVersion(name: ArtifactName, vars: Variables): string | undefined {
  const r = vars.image_registry;
  switch (name) {
    case 'docker':
      return vars.cri.docker_version;
    case 'docker_compose':
      return r.dockercompose_version;
    case 'harbor':
      return r.harbor_version;
    case 'docker_registry':
      return r.docker_registry_version;
    case 'keepalived':
      return r.keepalived_version;
  }
}

/** KubeKey's `binary_dir` layout, relative to binary_dir. */
export function defaultArtifactRelativePath(name: ArtifactName, version: string, arch: Arch): string {
  switch (name) {
    case 'docker':
      return `docker/${version}/${arch}/docker-${version}.tgz`;
    case 'docker_compose':
      return `image-registry/docker-compose/${version}/${arch}/docker-compose`;
    case 'harbor':
      return `image-registry/harbor/${version}/${arch}/harbor-offline-installer-${version}.tgz`;
    case 'docker_registry':
      return `image-registry/docker-registry/${version}/${arch}/docker-registry-${version}-linux-${arch}.tgz`;
    case 'keepalived':
      return `image-registry/keepalived/${version}/${arch}/keepalived-${version}-linux-${arch}.tgz`;
  }
}

export interface ArtifactLocation {
  name: ArtifactName;
  arch: Arch;
  version: string;
  /** Where the file is (or will be, once downloaded) on the kk machine. */
  localPath: string;
  /** Set when it must first be downloaded from here into localPath. */
  url?: string;
  /** The flag that points this artifact elsewhere, for hints. */
  overrideFlag: string;
}

/** Renders KubeKey's `download.artifact_url.<name>` template (`{{ .version }}`, `{{ .arch }}`). */
export function renderUrlTemplate(template: string, values: { version: string; arch: Arch }): string {
  return template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (whole, key: string) => {
    if (key === 'version') return values.version;
    if (key === 'arch') return values.arch;
    throw new Error(`unknown template field "${whole}" (only {{ .version }} and {{ .arch }})`);
  });
}

/**
 * Resolves an artifact for one arch: `artifact.artifact_url.<name>.<arch>` (the seed's form) or
 * `download.artifact_url.<name>` (KubeKey's current template) may give an http(s) URL, an absolute path,
 * or a bare file name inside the artifact's folder; without either, KubeKey's layout under binary_dir.
 */
export function resolveArtifact(name: ArtifactName, arch: Arch, vars: Variables): ArtifactLocation | { error: string } {
  const version = artifactVersion(name, vars);
  if (!version) return { error: `${ARTIFACT_VERSION_KEYS[name]} is not set` };
  const binaryDir = vars.binary_dir ?? path.join(vars.work_dir, 'kubekey');
  const defaultPath = path.join(binaryDir, defaultArtifactRelativePath(name, version, arch));
  const overrideFlag = `artifact.artifact_url.${name}.${arch}`;
  let value = vars.artifact.artifact_url[name]?.[arch];
  if (value === undefined && vars.download.artifact_url[name]) {
    try {
      value = renderUrlTemplate(vars.download.artifact_url[name]!, { version, arch });
    } catch (err) {
      return { error: `download.artifact_url.${name}: ${(err as Error).message}` };
    }
  }
  const base = { name, arch, version, overrideFlag };
  if (value === undefined) return { ...base, localPath: defaultPath };
  if (/^https?:\/\//i.test(value)) return { ...base, localPath: defaultPath, url: value };
  if (path.isAbsolute(value)) return { ...base, localPath: value };
  if (!value.includes('/')) return { ...base, localPath: path.join(path.dirname(defaultPath), value) };
  return { ...base, localPath: path.resolve(binaryDir, value) };
}
