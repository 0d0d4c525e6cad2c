/**
 * Image names as KubeKey reads and maps them (pkg/modules/image, roles/image-registry/push). Pure: the CLI, the
 * activities and tests share it.
 */

export interface ImageReference {
  /** `docker.io`, `registry.k8s.io`, … */
  registry: string;
  /** `library/nginx`, `pause`, `calico/node`. */
  repository: string;
  /** A tag, or a `sha256:` digest. */
  reference: string;
}

const DEFAULT_REGISTRY = 'docker.io';
/** A path component of a repository name (distribution's grammar). */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Whether the first part of a name is a registry host (KubeKey: govalidator.IsHost): has a dot or port, or is localhost. */
function isHost(part: string): boolean {
  return part === 'localhost' || part.includes('.') || part.includes(':');
}

/**
 * KubeKey's normalizeImageName and reference parsing: `nginx` → `docker.io/library/nginx`, `calico/node` →
 * `docker.io/calico/node`, a first part that is a host is kept; no tag means `latest`. Throws on a malformed name.
 */
export function parseImageReference(name: string): ImageReference {
  const text = name.trim();
  if (!text || /\s/.test(text)) throw new Error(`"${name}" is not an image name`);
  const parts = text.split('/');
  const withRegistry = parts.length === 1 ? [DEFAULT_REGISTRY, 'library', text] : isHost(parts[0]!) ? parts : [DEFAULT_REGISTRY, ...parts];
  const registry = withRegistry[0]!;
  let rest = withRegistry.slice(1).join('/');
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const components = rest.split('/');
  if (!rest || components.some((c) => !COMPONENT.test(c))) throw new Error(`"${name}": repository "${rest}" is not a valid name (lower-case letters, digits, separators)`);
  if (!(DIGEST.test(reference) || TAG.test(reference))) throw new Error(`"${name}": "${reference}" is neither a tag nor a sha256 digest`);
  return { registry, repository: rest, reference };
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.reference.startsWith('sha256:') ? '@' : ':'}${ref.reference}`;
}

/**
 * Where KubeKey pushes an image: the source registry's host dropped, the repository kept, except a one-part
 * `registry.k8s.io/<x>`, which becomes `kubernetes/<x>`; `auth.registry`'s path (`host/project`) goes in front.
 */
export function targetRepository(source: ImageReference, pathPrefix = ''): string {
  const repo = source.registry === 'registry.k8s.io' && !source.repository.includes('/') ? `kubernetes/${source.repository}` : source.repository;
  const prefix = pathPrefix.replace(/^\/+|\/+$/g, '');
  return prefix ? `${prefix}/${repo}` : repo;
}

/**
 * The path of `auth.registry` (`reg.local/library` → `library`), which KubeKey puts in front of every repository.
 * It goes into URLs and image names: each part must be a repository name's part, or this throws.
 */
export function registryPathPrefix(authRegistry: string | undefined): string {
  if (!authRegistry) return '';
  const withoutScheme = authRegistry.replace(/^[a-z]+:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  const prefix = slash < 0 ? '' : withoutScheme.slice(slash + 1).replace(/\/+$/, '');
  if (prefix && prefix.split('/').some((c) => !COMPONENT.test(c))) throw new Error(`path "${prefix}" is not a repository path (lower-case letters, digits, separators)`);
  return prefix;
}

/** Harbor's project for a repository: its first path component (Harbor has no repository outside a project). */
export function harborProject(repository: string): string | undefined {
  const slash = repository.indexOf('/');
  return slash < 0 ? undefined : repository.slice(0, slash);
}
