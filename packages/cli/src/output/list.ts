/** How a listing is printed: aligned columns (default), more columns (`-o wide`), or one JSON document. */
export type OutputFormat = 'table' | 'wide' | 'json';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
}

/** Print rows as the user asked: a JSON document of the API's objects as they are, or a table of the columns. */
export function printList<T>(rows: readonly T[], columns: readonly Column<T>[], format: OutputFormat): void {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const shown = columns.filter((c) => format === 'wide' || !c.wide);
  const cells = [shown.map((c) => c.header), ...rows.map((r) => shown.map((c) => c.value(r)))];
  const widths = shown.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  for (const line of cells) process.stdout.write(`${line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
}
