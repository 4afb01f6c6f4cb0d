import { Option, type Command } from 'commander';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { colours, type Colours } from './colour.ts';

/** How a listing is printed: aligned columns (default), more columns (`-o wide`), or one JSON document. */
export type OutputFormat = 'table' | 'wide' | 'json';
const FORMATS: readonly OutputFormat[] = ['table', 'wide', 'json'];

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
  /** Colour of a cell (a status), applied only on a terminal without NO_COLOR; the text is measured without it. */
  colour?: (row: T, c: Colours) => ((text: string) => string) | undefined;
}

export interface ListOptions {
  json?: boolean;
  output?: string;
}

/** `--json` and `-o, --output table|wide|json` on a listing command. */
export function withListOutput(command: Command): Command {
  return command
    .option('--json', 'one JSON document: the API\'s objects as they are (same as -o json)')
    .addOption(new Option('-o, --output <format>', 'table (default), wide (more columns) or json').choices(FORMATS as string[]));
}

/** The format the options ask for; `--json` with another `-o` is a usage error. */
export function outputFormat(opts: ListOptions): OutputFormat {
  const output = opts.output as OutputFormat | undefined;
  if (opts.json && output !== undefined && output !== 'json') throw new CliError(`--json and -o ${output} ask for two formats: give one`, ExitCode.usage, 'usage');
  return opts.json ? 'json' : (output ?? 'table');
}

/** One JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Print rows as the user asked: a JSON document of the API's objects as they are (`json`, or
 * `jsonValue` when the document is more than the rows), or a table of the columns, aligned, with
 * `empty` on stderr when there is no row (stdout keeps only the header, so a script sees none).
 */
export function printList<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  format: OutputFormat,
  opts: { jsonValue?: unknown; empty?: string; stream?: NodeJS.WriteStream } = {},
): void {
  if (format === 'json') return printJson(opts.jsonValue ?? rows);
  const out = opts.stream ?? process.stdout;
  const c = colours(out);
  const shown = columns.filter((col) => format === 'wide' || !col.wide);
  const cells = [shown.map((col) => col.header), ...rows.map((r) => shown.map((col) => oneLine(col.value(r))))];
  const widths = shown.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const lines = cells.map((line, n) =>
    line
      .map((cell, i) => {
        const padded = i === line.length - 1 ? cell : cell.padEnd(widths[i]!);
        const paint = n > 0 && c.enabled ? shown[i]!.colour?.(rows[n - 1]!, c) : undefined;
        // Padding outside the colour: the escape codes take no column.
        return paint ? paint(cell) + padded.slice(cell.length) : padded;
      })
      .join('  ')
      .trimEnd(),
  );
  out.write(`${lines.join('\n')}\n`);
  if (rows.length === 0 && opts.empty) process.stderr.write(`${opts.empty}\n`);
}

/** A cell is one line: a newline or tab in a value (a description) would break the columns. */
const oneLine = (text: string) => text.replace(/[\r\n\t]+/g, ' ');

/** `k=v,k2=v2`, sorted by key; empty when there are none. */
export const labelText = (labels: Record<string, string>) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');

/** "3s ago", "5m ago", "2h ago", "4d ago"; "-" for never. */
export function ago(iso: string | null, now = Date.now()): string {
  if (iso === null) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Every item of a paginated listing (`nextCursor`), page by page. */
export async function allPages<T>(page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    items.push(...p.items);
    cursor = p.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}
