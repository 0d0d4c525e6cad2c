import type { LabFile } from '../../lab/lab-file';
import { onNode } from './lab';

/**
 * What a host's own sshd saw, independent of kk: one "Starting session" line per command (LogLevel VERBOSE) and, from
 * the SFTP server at log level INFO, the bytes written into each file per open (a killed transfer logs a forced close
 * with what it wrote). Counting them on the host is how the fault suite checks that a resumed run re-sent only what
 * was in flight.
 */
export async function enableHostAudit(labFile: LabFile, nodes: readonly string[]): Promise<void> {
  await Promise.all(
    nodes.map((n) =>
      onNode(
        labFile,
        n,
        [
          "sed -i 's|^Subsystem[[:space:]]*sftp.*|Subsystem sftp /usr/lib/openssh/sftp-server -l INFO|' /etc/ssh/sshd_config",
          "printf 'LogLevel VERBOSE\\n' > /etc/ssh/sshd_config.d/00-kk-audit.conf",
          'sshd -t && systemctl restart ssh.service',
        ].join(' && '),
      ),
    ),
  );
}

export interface HostAudit {
  /** SSH sessions that ran a command or a subsystem (every exec and SFTP session is one). */
  sessions: number;
  /** Bytes the SFTP server wrote, per file, summed over every open. */
  written: Map<string, number>;
}

/** A journal position: what comes after it is what a later `auditSince` reads. */
export async function auditCursor(labFile: LabFile, node: string): Promise<string> {
  const out = await onNode(labFile, node, 'journalctl --no-pager -n 0 --show-cursor');
  const m = /-- cursor: (\S+)/.exec(out);
  if (!m) throw new Error(`${node}: no journal cursor in ${JSON.stringify(out)}`);
  return m[1]!;
}

export async function auditSince(labFile: LabFile, node: string, cursor: string): Promise<HostAudit> {
  const out = await onNode(labFile, node, `journalctl --no-pager -o cat --after-cursor='${cursor}' _COMM=sshd + _COMM=sftp-server`);
  const audit: HostAudit = { sessions: 0, written: new Map() };
  for (const line of out.split('\n')) {
    if (/^Starting session: (command|subsystem)/.test(line)) audit.sessions++;
    const w = /close "(.+)" bytes read \d+ written (\d+)$/.exec(line);
    if (w) audit.written.set(w[1]!, (audit.written.get(w[1]!) ?? 0) + Number(w[2]));
  }
  return audit;
}

/** Bytes written into files whose path matches, over all opens. */
export function writtenTo(audit: HostAudit, pattern: RegExp): number {
  let sum = 0;
  for (const [file, bytes] of audit.written) if (pattern.test(file)) sum += bytes;
  return sum;
}
