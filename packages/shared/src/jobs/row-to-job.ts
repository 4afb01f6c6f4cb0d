import { getTableColumns } from 'drizzle-orm';
import type { Row } from 'postgres';
import { jobs } from '../db/schema/jobs.ts';
import type { JobRow } from './job-view.ts';

/**
 * Timestamps from raw queries arrive as strings: drizzle's postgres-js driver replaces the
 * client's date parsers so it can map them itself.
 */
export const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

/** Every column of the table: its field name, its SQL name, and drizzle's own decoder for it. */
const COLUMNS = Object.entries(getTableColumns(jobs)).map(([field, column]) => ({
  field,
  name: column.name,
  decode(value: unknown): unknown {
    if (value === undefined) throw new Error(`rowToJob: the row has no column ${column.name} (select * / returning * only)`);
    return value === null ? null : column.mapFromDriverValue(value);
  },
}));

/**
 * `{ id: decode[0](r["id"]), status: decode[1](r["status"]), … }`, generated once from the table:
 * an object literal of fixed shape is what makes this as fast as a mapping typed by hand (a loop
 * of keyed writes was three times slower, and rowToJob runs for every job written or read).
 */
const mapRow = new Function(
  'decode',
  'r',
  `return { ${COLUMNS.map((c, i) => `${JSON.stringify(c.field)}: decode[${i}](r[${JSON.stringify(c.name)}])`).join(', ')} };`,
) as (decode: ((value: unknown) => unknown)[], r: Row) => JobRow;
const DECODERS = COLUMNS.map((c) => c.decode);

/**
 * A raw `select *` / `returning *` row from postgres.js as the drizzle row type, mapped from the
 * table definition the way drizzle maps its own selects: a column added to the schema is mapped
 * without anyone retyping it here. A row missing a column (a narrower select) is refused.
 */
export function rowToJob(r: Row): JobRow {
  return mapRow(DECODERS, r);
}
