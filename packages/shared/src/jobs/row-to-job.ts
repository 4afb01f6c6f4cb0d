import { getTableColumns } from 'drizzle-orm';
import type { Row } from 'postgres';
import { jobs } from '../db/schema/jobs.ts';
import type { JobRow } from './job-view.ts';

/**
 * Timestamps from raw queries arrive as strings: drizzle's postgres-js driver replaces the
 * client's date parsers so it can map them itself.
 */
export const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

/** Every column of the table: its field name, its SQL name, and drizzle's own decoder. */
const COLUMNS = Object.entries(getTableColumns(jobs)).map(([field, column]) => ({ field, name: column.name, column }));

/**
 * A raw `select *` / `returning *` row from postgres.js as the drizzle row type, mapped from the
 * table definition the way drizzle maps its own selects: a column added to the schema is mapped
 * without anyone retyping it here. A row missing a column (a narrower select) is refused.
 */
export function rowToJob(r: Row): JobRow {
  const job: Record<string, unknown> = {};
  for (const { field, name, column } of COLUMNS) {
    const value: unknown = r[name];
    if (value === undefined) throw new Error(`rowToJob: the row has no column ${name} (select * / returning * only)`);
    job[field] = value === null ? null : column.mapFromDriverValue(value);
  }
  return job as JobRow;
}
