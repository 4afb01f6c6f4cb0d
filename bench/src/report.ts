import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchRow } from './scenario.ts';

export interface BenchReport {
  startedAt: string;
  durationS: number;
  quick: boolean;
  machine: { cpus: number; node: string; loadavg: number[] };
  rows: BenchRow[];
  failures: { scenario: string; error: string }[];
}

const fmt = (v: number | null) => (v === null ? '—' : Number.isFinite(v) ? String(v) : String(v));

/** The table as Markdown (it reads well in a terminal and pastes into the README as is). */
export function formatTable(rows: BenchRow[]): string {
  const header = ['scenario', 'measured', 'baseline', 'ratio', 'goal', 'met', 'RSS peak MiB'];
  const lines = rows.map((r) => [
    r.scenario,
    `${fmt(r.measured)} ${r.unit}`,
    `${fmt(r.baseline)} ${r.unit}`,
    fmt(r.ratio),
    r.goal,
    r.pass === null ? '' : r.pass ? 'yes' : 'no',
    Object.entries(r.rss).map(([k, v]) => `${k} ${Math.round(v)}`).join(' · '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}

export function formatNotes(rows: BenchRow[]): string {
  return rows.filter((r) => r.notes).map((r) => `- ${r.scenario}: ${r.notes}`).join('\n');
}

/** Writes bench/results/<timestamp>.json and returns its path. */
export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${report.startedAt.replace(/[:.]/g, '-')}${report.quick ? '-quick' : ''}.json`);
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
  return path;
}
