import * as os from 'node:os';

/** One figure of the bench: a value with its unit, and the target it is held to when there is one. */
export interface Figure {
  key: string;
  label: string;
  value: number;
  unit: string;
  /** `<=` or `>=` a bound, in the figure's unit. */
  target?: { op: '<=' | '>='; bound: number };
  met?: boolean;
}

export function figure(key: string, label: string, value: number, unit: string, target?: Figure['target']): Figure {
  const met = target ? (target.op === '<=' ? value <= target.bound : value >= target.bound) : undefined;
  return { key, label, value, unit, target, met };
}

export function machine(): { cores: number; cpu: string; memoryBytes: number; node: string; kernel: string; loadavg: number[] } {
  return { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', memoryBytes: os.totalmem(), node: process.version, kernel: os.release(), loadavg: os.loadavg() };
}

function format(value: number, unit: string): string {
  if (unit === 'bytes') return value >= 1e6 ? `${(value / 1e6).toFixed(1)} MB` : `${value} B`;
  if (unit === 'bytes/s') return `${(value / 1e6).toFixed(1)} MB/s`;
  if (unit === 's') return `${value.toFixed(1)} s`;
  if (unit === 'ms') return `${value.toFixed(0)} ms`;
  if (unit === 'ratio') return `${value.toFixed(2)}`;
  return `${value} ${unit}`;
}

function targetText(f: Figure): string {
  if (!f.target) return '';
  return `${f.target.op === '<=' ? '≤' : '≥'} ${format(f.target.bound, f.unit)}`;
}

/** The bench's table as Markdown (what the README shows). */
export function table(figures: Figure[]): string {
  const rows = figures.map((f) => `| ${f.label} | ${format(f.value, f.unit)} | ${targetText(f)} | ${f.met === undefined ? '' : f.met ? 'met' : '**missed**'} |`);
  return ['| Figure | Value | Target | |', '|---|---|---|---|', ...rows].join('\n');
}
