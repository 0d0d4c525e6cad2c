import { KK_UNIT_MARKER } from './markers';
import { sections } from '../activities/facts/gather';

/**
 * What runs on a registry host, as `kk create cluster` and `kk delete registry` see it: kk's own install (a unit
 * headed by kk's marker), another installer's (a harbor.service / docker-registry.service without it, or a compose
 * project or container running a registry image that no kk unit starts), or nothing. Pure, so workflows may use it.
 */
export type RegistryFound =
  | { kind: 'ours'; type: 'harbor' | 'docker-registry'; version: string; healthy: boolean; fingerprint?: string }
  | { kind: 'foreign'; found: string[] }
  | { kind: 'missing' };

/** Where create cluster records the input a registry host was last converged with (an HMAC, never the input). */
export const INPUT_FINGERPRINT_FILE = '/var/lib/kubekey/registry-input.hmac';

/** Compose projects kk's units start: containers of these belong to kk's install when kk's unit is there. */
const KK_PROJECTS: Record<string, 'harbor' | 'docker-registry'> = { harbor: 'harbor', 'docker-registry': 'docker-registry' };

/** A registry server image: the CNCF registry, or one of Harbor's. */
const REGISTRY_IMAGE = /(^|\/)(registry|distribution)(:|$)|goharbor\/|(^|\/)harbor-(core|registry|db|portal)/;

/**
 * A read-only script: kk's and others' registry units (with the compose file kk's unit starts), the containers Docker
 * has (compose project, image, name), and, when given, one health request over TLS verified with kk's CA.
 */
export function detectScript(health?: { url: string; caPath: string }): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'echo @@units',
    `for u in harbor.service docker-registry.service; do f=$(systemctl show -p FragmentPath --value "$u" 2>/dev/null); [ -n "$f" ] && [ -e "$f" ] || continue; if head -n1 "$f" | grep -qxF ${q(KK_UNIT_MARKER)}; then o=kk; else o=other; fi; printf '%s %s %s %s\\n' "$u" "$o" "$f" "$(grep -o -- ' -f [^ ]*' "$f" | head -n1 | cut -c5-)"; done`,
    'echo @@containers',
    `if command -v docker >/dev/null 2>&1; then docker ps -a --format '{{.Label "com.docker.compose.project"}}|{{.Image}}|{{.Names}}' 2>/dev/null; fi`,
    'echo @@fingerprint',
    `cat ${INPUT_FINGERPRINT_FILE} 2>/dev/null; echo`,
    'echo @@health',
    health ? `curl -sS --max-time 5 --cacert ${q(health.caPath)} -o /dev/null -w '%{http_code}' ${q(health.url)} 2>/dev/null; echo` : 'echo',
    'echo @@end',
  ].join('\n');
}

/** The detection script's sections, each line trimmed, empty ones dropped. */
function trimmedSections(output: string): Map<string, string[]> {
  return new Map([...sections(output)].map(([name, lines]) => [name, lines.map((l) => l.trim()).filter(Boolean)]));
}

/** The version in the compose path kk's unit starts: /opt/docker-registry/<v>/… or /opt/harbor/<v>/harbor/…. */
function versionOfCompose(path: string): string | undefined {
  return /^\/opt\/(?:docker-registry|harbor)\/([^/]+)\//.exec(path)?.[1];
}

/** The tag of an image reference, if it has one. */
function tagOf(image: string): string | undefined {
  const last = image.split('/').pop()!;
  return last.includes(':') ? last.slice(last.indexOf(':') + 1) : undefined;
}

/** Classifies a host from the detect script's output. Anything another installer runs wins: kk never touches it. */
export function parseDetect(output: string): RegistryFound {
  const s = trimmedSections(output);
  if (!s.has('end')) throw new Error('registry detection output is incomplete');
  const units = (s.get('units') ?? []).map((l) => {
    const [unit = '', owner = '', file = '', compose = ''] = l.split(/\s+/);
    return { unit, owner, file, compose };
  });
  const found: string[] = [];
  for (const u of units.filter((x) => x.owner !== 'kk')) found.push(`${u.unit} (${u.file}, not installed by kk)`);
  const kkUnit = units.find((x) => x.owner === 'kk');
  const kkProjects = new Set<string>(units.filter((x) => x.owner === 'kk').map((x) => (x.unit === 'harbor.service' ? 'harbor' : 'docker-registry')));
  const others = new Map<string, string[]>();
  for (const line of s.get('containers') ?? []) {
    const [project = '', image = '', name = ''] = line.split('|');
    if (!REGISTRY_IMAGE.test(image)) continue;
    if (project && KK_PROJECTS[project] && kkProjects.has(project)) continue;
    const key = project ? `compose project ${project}` : `container ${name}`;
    others.set(key, [...(others.get(key) ?? []), image]);
  }
  for (const [what, images] of others) {
    const harbor = images.find((i) => /goharbor\/|harbor-core/.test(i));
    const version = tagOf(harbor ?? images[0]!);
    found.push(`${what} running ${harbor ? 'Harbor' : 'a docker registry'}${version ? ` ${version}` : ''} (${[...new Set(images)].join(', ')})`);
  }
  if (found.length) return { kind: 'foreign', found };
  if (!kkUnit) return { kind: 'missing' };
  const code = (s.get('health') ?? [])[0] ?? '';
  const fingerprint = (s.get('fingerprint') ?? [])[0];
  return {
    kind: 'ours',
    type: kkUnit.unit === 'harbor.service' ? 'harbor' : 'docker-registry',
    version: versionOfCompose(kkUnit.compose) ?? '',
    healthy: code === '200' || code === '401',
    ...(fingerprint && { fingerprint }),
  };
}
