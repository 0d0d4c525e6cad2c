/**
 * What a lab host's own sshd saw, independent of kk: one "Starting session" line per command (sshd at LogLevel
 * VERBOSE) and, from the SFTP server at log level INFO, `close "FILE" bytes read R written W` per open of a file (a
 * killed transfer logs a forced close with what it wrote). The fault suite counts from it that a resumed run re-sent
 * only what was in flight; the benchmark, the bytes an install really uploaded.
 */

/** Turns on the SFTP server's INFO log in sshd_config (sshd must reload or restart to take it). */
export const SFTP_INFO_LOG = "sed -i 's|^Subsystem[[:space:]]\\+sftp[[:space:]].*|Subsystem sftp /usr/lib/openssh/sftp-server -l INFO|' /etc/ssh/sshd_config";

export interface HostAudit {
  /** SSH sessions that ran a command or a subsystem (every exec and SFTP session is one; needs LogLevel VERBOSE). */
  sessions: number;
  /** Bytes the SFTP server wrote, per file, summed over every open. */
  written: Map<string, number>;
}

/** Reads sshd's and sftp-server's journal lines (`journalctl -o cat`). */
export function parseHostAudit(journal: string): HostAudit {
  const audit: HostAudit = { sessions: 0, written: new Map() };
  for (const line of journal.split('\n')) {
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
