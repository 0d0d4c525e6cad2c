import type { HostProbe, S3Access } from '../../precheck/types';
import { KEEPALIVED_UNIT, vipHeldTest } from '../install/keepalived';
import { raw, sh } from '../ssh/quote';

export interface ProbeSpec {
  /**
   * TCP paths to check. `required`: the registry cannot work without it (registry hosts reaching each other's
   * registry ports); the rest only warn.
   */
  peers: { address: string; port: number; required: boolean }[];
  registryPorts: number[];
  /** Registry hosts: whether this host holds the VIP, runs kk's keepalived, and whether anything answers on the VIP. */
  vip?: string;
  /**
   * Every other host: only whether it holds the VIP with kk's keepalived (a former member leaving the group may hold
   * it; the install removes its keepalived). No traffic to the VIP.
   */
  vipHolder?: string;
  s3?: S3Access;
}

/**
 * A signed HEAD of the bucket, run with curl on the host; the keys reach curl on stdin (`-K -`), never on a command
 * line. Returns the command and its stdin.
 */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function s3HeadCommand(s3: S3Access): { command: string; stdin: string } {
  const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const url = `${s3.endpoint.replace(/\/$/, '')}/${s3.bucket}`;
  const lines = [`url = ${quote(url)}`, 'head', 'silent', 'show-error', 'max-time = 10', `write-out = "%{http_code}"`, 'output = "/dev/null"'];
  if (s3.accesskey && s3.secretkey) {
    // S3 wants the payload hash header, which curl (7.88) does not add itself: the hash of the empty body.
    lines.push(`user = ${quote(`${s3.accesskey}:${s3.secretkey}`)}`, `aws-sigv4 = ${quote(`aws:amz:${s3.region}:s3`)}`, `header = "x-amz-content-sha256: ${EMPTY_SHA256}"`);
  }
  return { command: 'curl -K -', stdin: `${lines.join('\n')}\n` };
}

/**
 * Read-only network probes run on a host after its facts: listening ports and their holders, TCP reach to every peer
 * (a refused connection still proves the path), and whether anything answers on the VIP. bash's /dev/tcp is used so
 * nothing has to be installed; every value is quoted.
 */
export function probeScript(spec: ProbeSpec): string {
  const lines = ['echo @@listen', "ss -ltnH 2>/dev/null | awk '{print $4}'", 'echo @@holders'];
  for (const port of spec.registryPorts) lines.push(sh`printf '%s %s\\n' ${port} "$(ss -ltnpH ${`sport = :${port}`} 2>/dev/null | grep -o 'users:(("[^"]*"' | head -n1 | cut -d'"' -f2)"`);
  // Every path is probed at once (3 s each at most), so forty filtered peers cost 3 s, not two minutes.
  lines.push('echo @@reach');
  for (const peer of spec.peers) lines.push(`( ${reachLine(peer.address, peer.port, `${peer.address}:${peer.port}`)} ) &`);
  lines.push('wait');
  lines.push('echo @@ca');
  lines.push(`for f in /opt/docker-registry/*/ssl/ca.crt /opt/harbor/*/ssl/ca.crt /opt/keepalived/*/ca.crt; do [ -f "$f" ] && sha256sum "$f"; done 2>/dev/null`);
  lines.push('echo @@nfs');
  lines.push('if command -v mount.nfs >/dev/null 2>&1 || [ -x /sbin/mount.nfs ] || [ -x /usr/sbin/mount.nfs ]; then echo present; fi');
  const vip = spec.vip ?? spec.vipHolder;
  if (vip) {
    lines.push('echo @@vip');
    lines.push(`if ${vipHeldTest(vip)}; then echo held; fi`);
    // kk's keepalived: its unit active and a keepalived process running (another installer's keepalived is not ours).
    lines.push(sh`if pgrep -x keepalived >/dev/null 2>&1 && systemctl is-active --quiet ${KEEPALIVED_UNIT}; then echo keepalived; fi`);
  }
  if (spec.vip) {
    // A stale neighbour entry (someone held the VIP earlier) must not count: only a fresh ARP answer does.
    lines.push(sh`ip neigh flush to ${spec.vip} 2>/dev/null || true`);
    lines.push(reachLine(spec.vip, 9, 'probe'));
    lines.push(sh`if ip neigh show ${spec.vip} 2>/dev/null | grep -q lladdr; then echo neigh; fi`);
  }
  lines.push('echo @@probe-end');
  return lines.join('\n');
}

function reachLine(address: string, port: number, label: string): string {
  const target = `/dev/tcp/${address}/${port}`;
  return sh`out=$(timeout 3 bash -c ${raw(`'exec 3<>"$0"'`)} ${target} 2>&1); rc=$?; if [ $rc -eq 0 ]; then s=open; elif printf %s "$out" | grep -qi refused; then s=refused; else s=unreachable; fi; printf '%s %s\\n' ${label} "$s"`;
}

/** The part of a host's probe (precheck/types.ts) that the probe script's output gives. */
export type ProbeOutput = Pick<HostProbe, 'listening' | 'portHolders' | 'reach' | 'vip' | 'deployedCa' | 'nfsClient'>;

export function parseProbe(output: string, spec: ProbeSpec): ProbeOutput {
  const section = (name: string) => {
    const m = new RegExp(`^@@${name}\\n([\\s\\S]*?)(?=^@@)`, 'm').exec(output);
    return (m?.[1] ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  };
  if (!output.includes('@@probe-end')) throw new Error('probe output is incomplete');
  const listening = [...new Set(section('listen').map((a) => Number(/:(\d+)$/.exec(a)?.[1])).filter((p) => p > 0))].sort((a, b) => a - b);
  const portHolders: Record<string, string> = {};
  for (const line of section('holders')) {
    const [port, holder] = line.split(/\s+/);
    if (port && holder) portHolders[port] = holder;
  }
  const reach: ProbeOutput['reach'] = {};
  for (const line of section('reach')) {
    const [target, state] = line.split(/\s+/);
    if (target && (state === 'open' || state === 'refused' || state === 'unreachable')) reach[target] = state;
  }
  let vip: ProbeOutput['vip'];
  if (spec.vip ?? spec.vipHolder) {
    const v = section('vip');
    const probe = v.find((l) => l.startsWith('probe '))?.split(/\s+/)[1];
    vip = { heldHere: v.includes('held'), keepalivedHere: v.includes('keepalived'), answered: v.includes('neigh') || probe === 'open' || probe === 'refused' };
  }
  const deployedCa: Record<string, string> = {};
  for (const line of section('ca')) {
    const [hash, file] = line.split(/\s+/);
    if (hash && file && /^[0-9a-f]{64}$/.test(hash)) deployedCa[file] = hash;
  }
  return { listening, portHolders, reach, vip, deployedCa, nfsClient: section('nfs').includes('present') };
}
