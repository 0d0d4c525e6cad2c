/** Text for the terminal: sizes, durations, ages and `kubectl get`-style tables. Pure, so the CLI loads it at start. */

export interface HostProgress {
  host: string;
  status: string;
  /** The pending activity's type (`gatherFacts`); its human label is `stepLabel(step)`. */
  step?: string;
  attempt?: number;
  elapsedMs?: number;
  lastFailure?: string;
  /** Why the host's workflow failed, when it did. */
  failure?: string;
  /** Upload progress from the step's last heartbeat (`{offset, total}`), bytes. */
  bytes?: { offset: number; total: number };
  /** Why the host waits for the operator, when its workflow parked a step (memo `parked`). */
  parked?: string;
  /** Why its step has not started: a local host's step waits for a worker started for that host (cli/local-wait.ts). */
  waiting?: string;
}

/** `1.2 GB`, `340 kB`: sizes as people read them. */
export function bytesText(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${units[i]}`;
}

/** `45s`, `3m12s`, `2h5m`: elapsed times. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** kubectl's AGE column: the largest unit only (`45s`, `5m`, `3h`, `2d`). */
export function age(since: Date, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - since.getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A `kubectl get`-style table: upper-case headers, columns padded to their widest cell, three spaces apart. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return `${[headers, ...rows].map(line).join('\n')}\n`;
}

/** What a host row says besides its step: upload bytes, why it is parked, what its last attempt or run failed with. */
export function hostDetail(h: HostProgress, rate?: number): string {
  if (h.parked) return `parked: ${h.parked}`;
  if (h.failure) return `failure: ${h.failure}`;
  if (h.waiting) return h.waiting;
  const parts: string[] = [];
  if (h.bytes) parts.push(`${bytesText(h.bytes.offset)}/${bytesText(h.bytes.total)}${rate !== undefined && rate > 0 ? ` ${bytesText(rate)}/s` : ''}`);
  if (h.lastFailure) parts.push(`last failure: ${h.lastFailure}`);
  return parts.join('  ') || '';
}

