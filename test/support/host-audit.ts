import type { LabFile } from '../../lab/lab-file';
import { parseHostAudit, SFTP_INFO_LOG, type HostAudit } from '../../lab/host-audit';
import { onNode } from './lab';

export { writtenTo, type HostAudit } from '../../lab/host-audit';

/** sshd at LogLevel VERBOSE and the SFTP server at INFO on these nodes (lab/host-audit.ts reads what they log). */
export async function enableHostAudit(labFile: LabFile, nodes: readonly string[]): Promise<void> {
  await Promise.all(
    nodes.map((n) => onNode(labFile, n, [SFTP_INFO_LOG, "printf 'LogLevel VERBOSE\\n' > /etc/ssh/sshd_config.d/00-kk-audit.conf", 'sshd -t && systemctl restart ssh.service'].join(' && '))),
  );
}

/** A journal position: what comes after it is what a later `auditSince` reads. */
export async function auditCursor(labFile: LabFile, node: string): Promise<string> {
  const out = await onNode(labFile, node, 'journalctl --no-pager -n 0 --show-cursor');
  const m = /-- cursor: (\S+)/.exec(out);
  if (!m) throw new Error(`${node}: no journal cursor in ${JSON.stringify(out)}`);
  return m[1]!;
}

export async function auditSince(labFile: LabFile, node: string, cursor: string): Promise<HostAudit> {
  return parseHostAudit(await onNode(labFile, node, `journalctl --no-pager -o cat --after-cursor='${cursor}' _COMM=sshd + _COMM=sftp-server`));
}
