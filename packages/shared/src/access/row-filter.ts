import type postgres from 'postgres';

/**
 * A condition on the rows of one table, given the alias the query uses for it (`j`, `jobs`,
 * `r`): how the engine's visibility and permission rules reach a query without the query knowing
 * them. The queries take one as `visibleTo` and put it in their `where`. It is never null (true
 * or false), so it may be negated or selected as a value. For an admin it is `true`, which costs
 * Postgres nothing.
 */
export type RowFilter = (alias: string) => postgres.Fragment;
