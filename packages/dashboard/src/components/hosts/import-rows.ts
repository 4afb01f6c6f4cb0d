import type { Host } from '@vmo/shared/api';

/** POST /v1/hosts/import's answer (packages/shared/src/api/hosts.ts HostImportResult). */
export interface HostImportResult {
  created: Host[];
  updated: Host[];
  unchanged: Host[];
  skipped: { alias: string; reason: string; line?: number | undefined }[];
  warnings: { line: number; directive: string; aliases: string[]; message: string }[];
}

/** One row of the result, as `vmo hosts import` prints it: RESULT, HOST, DETAIL. */
export interface ImportRow {
  result: 'created' | 'updated' | 'unchanged' | 'skipped' | 'warning';
  /** The host (name@environment), the alias or directive skipped, or the aliases a warning is about. */
  name: string;
  detail: string;
  line?: number | undefined;
}

const destination = (h: Host) => `${h.user}@${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}${h.proxyJump ? ` via ${h.proxyJump}` : ''}`;

export function importRows(result: HostImportResult): ImportRow[] {
  const host = (kind: 'created' | 'updated' | 'unchanged') => (h: Host): ImportRow => ({ result: kind, name: h.ref, detail: destination(h) });
  return [
    ...result.created.map(host('created')),
    ...result.updated.map(host('updated')),
    ...result.unchanged.map(host('unchanged')),
    ...result.skipped.map((s): ImportRow => ({ result: 'skipped', name: s.alias, detail: s.reason, line: s.line })),
    ...result.warnings.map((w): ImportRow => ({ result: 'warning', name: w.aliases.join(', '), detail: `${w.directive}: ${w.message}`, line: w.line })),
  ];
}

export function importSummary(result: HostImportResult): string {
  const n = (count: number, what: string) => `${count} ${what}`;
  return [
    n(result.created.length, 'created'),
    n(result.updated.length, 'updated'),
    n(result.unchanged.length, 'unchanged'),
    n(result.skipped.length, 'skipped'),
    n(result.warnings.length, result.warnings.length === 1 ? 'warning' : 'warnings'),
  ].join(', ');
}
