import { getTableColumns } from 'drizzle-orm';
import type { Row } from 'postgres';
import { runs } from '../db/schema/runs.ts';

export type RunRow = typeof runs.$inferSelect;

/** Every column of the table: its field name, its SQL name, and drizzle's own decoder for it. */
const COLUMNS = Object.entries(getTableColumns(runs)).map(([field, column]) => ({
  field,
  name: column.name,
  decode(value: unknown): unknown {
    if (value === undefined) throw new Error(`rowToRun: the row has no column ${column.name} (select * / returning * only)`);
    return value === null ? null : column.mapFromDriverValue(value);
  },
}));

/**
 * A raw `select *` / `returning *` row from postgres.js as the drizzle row type, mapped from the
 * table definition as jobs/row-to-job.ts maps jobs: a column added to the schema is mapped without
 * anyone retyping it here, and a row missing a column (a narrower select) is refused.
 */
export function rowToRun(r: Row): RunRow {
  const out: Record<string, unknown> = {};
  for (const c of COLUMNS) out[c.field] = c.decode(r[c.name]);
  return out as RunRow;
}
