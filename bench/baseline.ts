import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { LabNode } from '../lab/nodes';
import { LAB_KEY } from '../lab/paths';

/**
 * The essential work of an install done by a plain script with no orchestration: the artifacts copied to every node at
 * once with `ssh HOST 'cat > FILE' < FILE`, Docker unpacked and started, the images loaded, the configs kk rendered
 * (captured from kk's own install on the same node) written, the compose project started, health awaited, and in
 * HA keepalived started and the registry awaited through the VIP. No precheck, no verification push, no Harbor
 * replication mesh, no idempotence checks.
 */
export interface BaselineSpec {
  type: 'docker-registry' | 'harbor';
  nodes: LabNode[];
  /** Local artifact paths by the name they get on the node (docker.tgz, docker-compose, registry.tgz, keepalived.tgz). */
  files: Record<string, string>;
  /** Per node: the tar.gz of kk's configs from that node. */
  configs: Map<string, Buffer>;
  harborVersion: string;
  vip?: string;
}

const SSH_OPTIONS = ['-i', LAB_KEY, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];

/** `ssh root@ADDRESS CMD` with stdin from a file or a buffer; rejects with its stderr on a non-zero exit. */
export function ssh(address: string, cmd: string, stdin: { file: string } | Buffer | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = stdin && 'file' in stdin ? fs.openSync(stdin.file, 'r') : undefined;
    const child = spawn('ssh', [...SSH_OPTIONS, `root@${address}`, cmd], { stdio: [fd ?? 'pipe', 'ignore', 'pipe'] });
    if (fd !== undefined) fs.closeSync(fd);
    else child.stdin!.end(stdin ?? '');
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ssh ${address} ${cmd.slice(0, 80)}: exit ${code}: ${stderr.trim().slice(-800)}`))));
  });
}

const waitHttp = (url: string, ca: string, ok: string) =>
  `for i in $(seq 180); do c=$(curl -s --max-time 5 --cacert ${ca} -o /dev/null -w '%{http_code}' ${url} || true); case " ${ok} " in *" $c "*) break ;; esac; sleep 1; done; case " ${ok} " in *" $c "*) ;; *) echo "${url}: $c" >&2; exit 1 ;; esac`;

function nodeScript(spec: BaselineSpec, node: LabNode): string {
  const ca = `/etc/docker/certs.d/${node.address}/ca.crt`;
  const lines = [
    'set -e',
    'tar -C / -xzf -',
    'cd /root/bench',
    'tar -C /usr/local/bin --no-same-owner --strip-components=1 -xzf docker.tgz docker/',
    'install -m 0755 docker-compose /usr/local/bin/docker-compose',
    'systemctl daemon-reload',
    'systemctl enable --now containerd docker >/dev/null 2>&1',
    'for i in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done',
  ];
  if (spec.type === 'docker-registry') {
    lines.push('docker load -i registry.tgz >/dev/null', 'systemctl start docker-registry.service', waitHttp(`https://${node.address}/v2/`, ca, '200 401'));
  } else {
    const dir = `/opt/harbor/${spec.harborVersion}`;
    lines.push(
      `mkdir -p ${dir} && tar -C ${dir} --no-same-owner --exclude harbor/harbor.yml.tmpl -xzf harbor.tgz`,
      `mkdir -p "$(sed -n 's/^data_volume: *//p' ${dir}/harbor/harbor.yml)"`,
      `cd ${dir}/harbor && ./install.sh >/dev/null`,
      `ok=; for i in $(seq 180); do h=$(curl -s --max-time 5 --cacert ${ca} https://${node.address}/api/v2.0/health || true); case "$h" in *'"healthy"'*) case "$h" in *unhealthy*) ;; *) ok=1; break ;; esac ;; esac; sleep 1; done; [ -n "$ok" ] || { echo "Harbor not healthy: $h" >&2; exit 1; }`,
    );
  }
  if (spec.vip) lines.push('docker load -i /root/bench/keepalived.tgz >/dev/null', 'systemctl start kk-keepalived.service');
  return lines.join('\n');
}

/** Runs the baseline on fresh nodes; returns the wall time in ms and the time of its upload phase. */
export async function runBaseline(spec: BaselineSpec): Promise<{ ms: number; uploadMs: number }> {
  const t0 = performance.now();
  await Promise.all(spec.nodes.map((n) => ssh(n.address, 'mkdir -p /root/bench', undefined)));
  await Promise.all(spec.nodes.flatMap((n) => Object.entries(spec.files).map(([name, local]) => ssh(n.address, `cat > /root/bench/${name}`, { file: local }))));
  const uploadMs = performance.now() - t0;
  await Promise.all(spec.nodes.map((n) => ssh(n.address, nodeScript(spec, n), spec.configs.get(n.name)!)));
  if (spec.vip) {
    const path = spec.type === 'harbor' ? '/api/v2.0/health' : '/v2/';
    await ssh(spec.nodes[0]!.address, waitHttp(`https://${spec.vip}${path}`, `/etc/docker/certs.d/${spec.vip}/ca.crt`, '200 401'), undefined);
  }
  return { ms: performance.now() - t0, uploadMs };
}
