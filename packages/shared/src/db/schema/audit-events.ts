import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { ActorKind, AuditResult } from '../../domain/access.ts';

/**
 * Append-only record of every mutating request and every denied one (issue 11 §Audit). No route
 * updates or deletes a row; a trigger refuses UPDATE and DELETE (retention, when it comes, is the
 * one writer allowed to delete, by setting `vmo.audit_retention` for its transaction).
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp('at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
    actorKind: text('actor_kind').$type<ActorKind>().notNull(),
    /** The user's id (user, proxy), the agent's id (agent), null otherwise. */
    actorId: text('actor_id'),
    /** The user's or agent's name, the proxy header's value, 'bootstrap admin'. */
    actorName: text('actor_name'),
    tokenId: text('token_id'),
    /** `<resource>.<verb>`, e.g. `jobs.submit`, `runs.cancel`, `agents.register`, `auth.login_failed`. */
    action: text('action').notNull(),
    resourceType: text('resource_type'),
    resourceId: text('resource_id'),
    /** The targets concerned (agent/host names), when the action has any. */
    targets: jsonb('targets').$type<string[]>(),
    sourceIp: text('source_ip'),
    requestId: text('request_id'),
    result: text('result').$type<AuditResult>().notNull(),
    /** The HTTP status answered. */
    status: integer('status'),
    /** The error code when denied or failed; never a secret, a token or an env value. */
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [
    index('audit_events_at_idx').on(t.at.desc(), t.id.desc()),
    index('audit_events_actor_idx').on(t.actorId, t.at.desc(), t.id.desc()),
    index('audit_events_action_idx').on(t.action, t.at.desc(), t.id.desc()),
    index('audit_events_resource_idx').on(t.resourceType, t.resourceId),
  ],
);
