import type { Sql } from 'postgres';
import type { AuditEvent } from './audit-event.ts';

/**
 * Append events in one statement. `at` is each row's own clock_timestamp() (the column's
 * default): the time the row was written, just after its request's answer was decided.
 */
export async function insertAuditEvents(sql: Sql, events: readonly AuditEvent[]): Promise<void> {
  const rows = events.map((e) => ({
    actor_kind: e.actorKind,
    actor_id: e.actorId,
    actor_name: e.actorName,
    token_id: e.tokenId,
    action: e.action,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    targets: e.targets,
    source_ip: e.sourceIp,
    request_id: e.requestId,
    result: e.result,
    status: e.status,
    detail: e.detail,
  }));
  // The whole batch is one parameter, a JSON array unpacked by jsonb_to_recordset: no limit on
  // bound parameters per statement, and the jsonb columns get JSON (a plain postgres.js client
  // binds a JS array to a jsonb column as a Postgres array literal).
  await sql`
    insert into audit_events (actor_kind, actor_id, actor_name, token_id, action, resource_type, resource_id, targets, source_ip, request_id, result, status, detail)
    select actor_kind, actor_id, actor_name, token_id, action, resource_type, resource_id, targets, source_ip, request_id, result, status, detail
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(
      actor_kind text, actor_id text, actor_name text, token_id text, action text, resource_type text, resource_id text,
      targets jsonb, source_ip text, request_id text, result text, status int, detail jsonb)`;
}
