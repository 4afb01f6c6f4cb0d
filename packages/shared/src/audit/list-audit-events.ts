import type { Sql } from 'postgres';
import type { ActorKind, AuditResult } from '../domain/access.ts';

export interface AuditFilter {
  /** A user or agent id, a token id (`tok_…`), or an actor's name ('anonymous' for anonymous callers). */
  actor?: string;
  /** `jobs.submit`, or `jobs.*` for every action on jobs. */
  action?: string;
  resourceType?: string;
  /** The resource's id, or the name a request's path gave it (`web-1`, `db-1@prod`). */
  resourceId?: string;
  result?: AuditResult;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  /** From a previous page's `nextCursor`. */
  after?: AuditCursor;
  limit: number;
}

/** Where a page ended: the last row's exact `at` (microseconds, as Postgres has it) and id. */
export interface AuditCursor {
  at: string;
  id: string;
}

export interface AuditRow {
  id: string;
  at: string;
  actorKind: ActorKind;
  actorId: string | null;
  actorName: string | null;
  tokenId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  targets: string[] | null;
  sourceIp: string | null;
  requestId: string | null;
  result: AuditResult;
  status: number | null;
  detail: Record<string, unknown> | null;
  /** The row's exact position, for the next page's cursor. */
  cursor: AuditCursor;
}

/**
 * Audit rows newest first, keyset-paged on (at, id): the same rows in the same order whatever is
 * appended meanwhile (new rows are newer than any cursor). Each filter narrows; an actor is
 * looked for as an id, a token id or a name.
 */
export async function listAuditEvents(sql: Sql, f: AuditFilter): Promise<AuditRow[]> {
  const conditions = [sql`true`];
  if (f.actor !== undefined) {
    const a = f.actor;
    conditions.push(
      a.startsWith('tok_')
        ? sql`token_id = ${a}`
        : a === 'anonymous'
          ? sql`actor_kind = 'anonymous'`
          : sql`(actor_id = ${a} or actor_name = ${a})`,
    );
  }
  if (f.action !== undefined) {
    conditions.push(f.action.endsWith('.*') ? sql`starts_with(action, ${f.action.slice(0, -1)})` : sql`action = ${f.action}`);
  }
  if (f.resourceType !== undefined) conditions.push(sql`resource_type = ${f.resourceType}`);
  // The id, or the name the path gave (detail.ref: `agents/web-1` finds its PATCH and DELETE,
  // stored by id), or for agents and hosts a name among the targets (the registration, the import).
  if (f.resourceId !== undefined) {
    const r = f.resourceId;
    conditions.push(sql`(resource_id = ${r}::text or detail->>'ref' = ${r}::text or (resource_type in ('agents', 'hosts') and targets @> jsonb_build_array(${r}::text)))`);
  }
  if (f.result !== undefined) conditions.push(sql`result = ${f.result}`);
  // As text: this driver fails to bind a Date where the server infers the parameter's type.
  if (f.since !== undefined) conditions.push(sql`at >= ${f.since.toISOString()}::timestamptz`);
  if (f.until !== undefined) conditions.push(sql`at < ${f.until.toISOString()}::timestamptz`);
  if (f.after !== undefined) conditions.push(sql`(at, id) < (${f.after.at}::timestamptz, ${f.after.id}::bigint)`);
  const where = conditions.reduce((acc, c) => sql`${acc} and ${c}`);
  const rows = await sql<(Omit<AuditRow, 'cursor'> & { exactAt: string })[]>`
    select id::text as id, at, actor_kind as "actorKind", actor_id as "actorId", actor_name as "actorName", token_id as "tokenId",
           action, resource_type as "resourceType", resource_id as "resourceId", targets, source_ip as "sourceIp",
           request_id as "requestId", result, status, detail,
           to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "exactAt"
    from audit_events
    where ${where}
    order by at desc, id desc
    limit ${f.limit}`;
  return rows.map(({ exactAt, ...row }) => ({
    ...row,
    at: new Date(row.at).toISOString(),
    cursor: { at: exactAt, id: row.id },
  }));
}
