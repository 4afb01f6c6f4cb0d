import { customType } from 'drizzle-orm/pg-core';

/**
 * A transaction id (64-bit, wraparound-free). Rows that streams must resume over carry the id of
 * the transaction that wrote them, so a reader can ask "what committed after the snapshot I last
 * read at" with `pg_visible_in_snapshot` — correct even when transactions commit out of order,
 * which a serial column is not. Read as text; never compared in JavaScript.
 */
export const xid8 = customType<{ data: string; driverData: string }>({
  dataType: () => 'xid8',
});
