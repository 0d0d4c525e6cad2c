import { binaryType } from '../../config/derived';
import { KK_UNIT_MARKER } from '../../registry/markers';
import type { HostFacts } from '../../precheck/host-facts';

/** One read-only script gathers everything; sections are marked so the parser does not depend on their order. */
export const FACTS_SCRIPT = `export LC_ALL=C
echo @@os; cat /etc/os-release 2>/dev/null
echo @@uname; uname -n; uname -r; uname -m
echo @@cpus; getconf _NPROCESSORS_ONLN 2>/dev/null || nproc
echo @@meminfo; grep -E '^MemTotal:' /proc/meminfo
echo @@df; df -P -k -T 2>/dev/null | tail -n +2
echo @@ip; ip -o addr show 2>/dev/null
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo @@docker; if command -v docker >/dev/null 2>&1; then echo "path $(command -v docker)"; docker --version 2>/dev/null; fi; systemctl is-active docker 2>/dev/null
echo @@compose; command -v docker-compose >/dev/null 2>&1 && docker-compose version --short 2>/dev/null
echo @@units; for u in docker.service harbor.service docker-registry.service; do f=$(systemctl show -p FragmentPath --value "$u" 2>/dev/null); m=other; [ -n "$f" ] && head -n1 "$f" 2>/dev/null | grep -qx '${KK_UNIT_MARKER}' && m=kk; printf '%s %s %s\\n' "$u" "$(systemctl show -p LoadState --value "$u" 2>/dev/null)" "$m"; done
echo @@clock; date +%s
echo @@end
`;

/** A read-only script's output cut at its `@@name` marker lines: each section's lines, as printed. */
export function sections(output: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    const m = /^@@(\w+)$/.exec(line.trim());
    if (m) map.set(m[1]!, (current = []));
    else current?.push(line);
  }
  return map;
}

function osRelease(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^["']|["']$/g, '');
  }
  return out;
}

const DEB = new Set(['debian', 'ubuntu', 'kylin', 'uos', 'deepin', 'linuxmint']);
const RPM = new Set(['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol', 'openeuler', 'anolis', 'kylin-server', 'suse', 'opensuse', 'amzn']);

export function osFamily(id: string, idLike: string[]): 'deb' | 'rpm' | 'unknown' {
  const all = [id, ...idLike];
  if (all.some((x) => DEB.has(x))) return 'deb';
  if (all.some((x) => RPM.has(x))) return 'rpm';
  return 'unknown';
}

export function parseFacts(output: string): HostFacts {
  const s = sections(output);
  if (!s.has('end')) throw new Error('facts output is incomplete');
  const rel = osRelease(s.get('os') ?? []);
  const [hostname = '', kernel = '', machine = ''] = (s.get('uname') ?? []).map((l) => l.trim());
  const id = (rel.ID ?? 'unknown').toLowerCase();
  const idLike = (rel.ID_LIKE ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const memKb = Number(/MemTotal:\s+(\d+)/.exec((s.get('meminfo') ?? []).join('\n'))?.[1] ?? 0);

  const filesystems = (s.get('df') ?? [])
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 7 && /^\d+$/.test(f[2]!))
    .map((f) => ({ device: f[0]!, fsType: f[1]!, sizeMb: Math.floor(Number(f[2]) / 1024), freeMb: Math.floor(Number(f[4]) / 1024), mount: f.slice(6).join(' ') }));

  const interfaces: HostFacts['interfaces'] = [];
  for (const line of s.get('ip') ?? []) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || (f[2] !== 'inet' && f[2] !== 'inet6')) continue;
    const name = f[1]!.replace(/@.*$/, '');
    const entry = interfaces.find((i) => i.name === name) ?? interfaces[interfaces.push({ name, cidrs: [] }) - 1]!;
    entry.cidrs.push(f[3]!);
  }

  const dockerLines = (s.get('docker') ?? []).map((l) => l.trim()).filter(Boolean);
  const dockerVersion = /Docker version ([^\s,]+)/.exec(dockerLines.join('\n'))?.[1];
  const composeVersion = (s.get('compose') ?? []).map((l) => l.trim()).find(Boolean);
  const units = new Map(
    (s.get('units') ?? []).map((l): [string, { state: string; owner: string }] => {
      const [unit = '', state = '', owner = ''] = l.trim().split(/\s+/);
      return [unit, { state, owner }];
    }),
  );
  const loaded = (u: string) => units.get(u)?.state === 'loaded';
  // Ours only when kk's marker heads the unit file: a unit of the same name from another installer is not.
  const ours = (u: string) => loaded(u) && units.get(u)?.owner === 'kk';
  const dockerPath = /^path (\S+)$/m.exec(dockerLines.join('\n'))?.[1];

  return {
    hostname,
    os: { id, idLike, versionId: rel.VERSION_ID ?? '', prettyName: rel.PRETTY_NAME ?? id, family: osFamily(id, idLike) },
    kernel,
    machine,
    arch: binaryType(machine) ?? null,
    cpus: Number((s.get('cpus') ?? [])[0]?.trim() ?? 0),
    memoryMb: Math.floor(memKb / 1024),
    filesystems,
    interfaces,
    docker: dockerVersion ? { version: dockerVersion, active: dockerLines.includes('active'), path: dockerPath ?? 'docker', managedByKk: ours('docker.service') } : null,
    dockerCompose: composeVersion ? { version: composeVersion.startsWith('v') ? composeVersion : `v${composeVersion}` } : null,
    services: { harbor: loaded('harbor.service'), dockerRegistry: loaded('docker-registry.service') },
    servicesByKk: { harbor: ours('harbor.service'), dockerRegistry: ours('docker-registry.service') },
    clock: Number((s.get('clock') ?? [])[0]?.trim() ?? 0),
  };
}
