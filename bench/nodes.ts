import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LabFile } from '../lab/lab-file';
import { sshOk, type LabNode } from '../lab/nodes';
import { LAB_WORKDIR } from '../lab/paths';
import { parseHostAudit, SFTP_INFO_LOG } from '../lab/host-audit';
import { KnownHosts } from '../activities/ssh/known-hosts';
import { lab, labSsh } from '../test/support/lab';

let scratch = '';
let count = 0;
/** Where the bench keeps its throwaway known_hosts files (a reset node has new keys); removed with the bench's tmp dir. */
export function setScratch(dir: string): void {
  scratch = dir;
}

/** Nodes that may hold something from an earlier case (at the start: whatever ran before the bench). */
const dirty = new Set<string>();

export function markAllDirty(labFile: LabFile): void {
  for (const n of labFile.nodes) dirty.add(n.name);
}

/** Leaves fresh hosts and a free VIP behind. */
export async function resetDirty(labFile: LabFile, workdir: string): Promise<void> {
  if (dirty.size) await freshNodes(labFile, [], workdir);
}

/** Runs a command as root on a lab node; a non-zero exit throws with the node, command and stderr. */
export async function onNode(_labFile: LabFile, node: string, cmd: string, stdin?: string): Promise<string> {
  const n = _labFile.nodes.find((x) => x.name === node)!;
  const conn = await labSsh(n, new KnownHosts(path.join(scratch, `known_hosts.${++count}`)));
  try {
    const r = await conn.exec(cmd, { sudo: true, timeoutMs: 600_000, stdin });
    if (r.code !== 0) throw new Error(`${node}: ${cmd}\n${r.stderr}`);
    return r.stdout;
  } finally {
    conn.close();
  }
}

/**
 * Fresh hosts for a first install (recreated from the lab's image, in parallel), each with sftp-server logging at
 * INFO (lab/host-audit.ts): the count of bytes every upload really sent.
 */
export async function freshNodes(labFile: LabFile, nodes: LabNode[], workdir: string): Promise<void> {
  // Every node used since its last reset is reset too: a leftover keepalived would hold the VIP the next case needs.
  const reset = labFile.nodes.filter((n) => dirty.has(n.name) || nodes.includes(n));
  await Promise.all(
    reset.map(async (n) => {
      dirty.delete(n.name);
      // Six nodes booting at once on a loaded machine may outlast the lab's boot wait: one more try.
      let r = await lab(['reset', n.name]);
      if (r.code !== 0) r = await lab(['reset', n.name]);
      if (r.code !== 0) throw new Error(`lab reset ${n.name} failed: ${r.stderr}`);
    }),
  );
  // A reset node has new host keys; the lab pins them in its own work dir (read through docker exec, not the network).
  fs.mkdirSync(workdir, { recursive: true });
  fs.copyFileSync(path.join(LAB_WORKDIR, 'known_hosts'), path.join(workdir, 'known_hosts'));
  for (const n of nodes) dirty.add(n.name);
  await Promise.all(nodes.map((n) => logSftp(labFile, n.name)));
  // sshd re-executes itself on reload: its port is closed for a moment.
  await Promise.all(
    nodes.map(async (n) => {
      for (let i = 0; !(await sshOk(n.address)); i++) {
        if (i > 100) throw new Error(`${n.name}: sshd did not come back after its reload`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }),
  );
}

async function logSftp(labFile: LabFile, node: string): Promise<void> {
  await onNode(labFile, node, `${SFTP_INFO_LOG} && systemctl reload ssh`);
}

/** Bytes written over SFTP on these nodes since `sinceMs` (epoch ms), per file, from sftp-server's log. */
export async function sftpWritten(labFile: LabFile, nodes: LabNode[], sinceMs: number): Promise<{ total: number; files: { node: string; file: string; bytes: number }[] }> {
  const files: { node: string; file: string; bytes: number }[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      const out = await onNode(labFile, n.name, `journalctl -q -o cat SYSLOG_IDENTIFIER=sftp-server --since @${(sinceMs / 1000).toFixed(3)} || true`);
      for (const [file, bytes] of parseHostAudit(out).written) if (bytes) files.push({ node: n.name, file, bytes });
    }),
  );
  return { total: files.reduce((a, f) => a + f.bytes, 0), files };
}

/** What kk wrote on a node besides the artifacts (configs, certificates, units), as a tar.gz: the baseline writes it. */
export async function captureConfigs(labFile: LabFile, node: string): Promise<Buffer> {
  const paths = ['etc/docker', 'etc/systemd/system/containerd.service', 'etc/systemd/system/docker.service', 'etc/systemd/system/docker-registry.service', 'etc/systemd/system/kk-keepalived.service', 'opt/docker-registry', 'opt/keepalived', 'opt/harbor/*/ssl', 'opt/harbor/*/harbor/harbor.yml'];
  const out = await onNode(labFile, node, `cd / && tar --exclude='*.tgz' -czf - $(for p in ${paths.join(' ')}; do [ -e "$p" ] && echo "$p"; done) | base64 -w0`);
  return Buffer.from(out.trim(), 'base64');
}
