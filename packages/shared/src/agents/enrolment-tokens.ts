import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import { newId } from '../domain/ids.ts';
import { generateToken, hashToken } from '../tokens.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { enrolmentTokens } from '../db/schema/enrolment-tokens.ts';
import type { EnrolmentTokenInput } from './enrolment-token-input.ts';

type EnrolmentTokenRow = typeof enrolmentTokens.$inferSelect;

/** Whether the token would enrol an agent now, and if not, why: the first reason that holds. */
export type EnrolmentTokenStatus = 'active' | 'revoked' | 'expired' | 'used_up';

export function enrolmentTokenStatus(row: Pick<EnrolmentTokenRow, 'revokedAt' | 'expiresAt' | 'maxUses' | 'uses'>, now = new Date()): EnrolmentTokenStatus {
  if (row.revokedAt) return 'revoked';
  if (row.expiresAt <= now) return 'expired';
  if (row.maxUses !== null && row.uses >= row.maxUses) return 'used_up';
  return 'active';
}

/** What the API shows of an enrolment token: everything but the token (only its hash is kept). */
export function enrolmentTokenView(row: EnrolmentTokenRow) {
  return {
    id: row.id,
    name: row.name,
    labels: row.labels,
    status: enrolmentTokenStatus(row),
    expiresAt: row.expiresAt.toISOString(),
    maxUses: row.maxUses,
    uses: row.uses,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}
export type EnrolmentTokenView = ReturnType<typeof enrolmentTokenView>;

/**
 * Postgres rows (snake_case, from cp.database.sql) → the drizzle row shape the view takes.
 * Timestamps come back as text: drizzle's driver turns postgres.js's date parsing off on the
 * client it shares with us.
 */
interface SqlRow {
  id: string;
  name: string | null;
  token_hash: string;
  labels: Record<string, string>;
  expires_at: string | Date;
  max_uses: number | null;
  uses: number;
  created_by: string | null;
  created_at: string | Date;
  revoked_at: string | Date | null;
}
const fromSql = (r: SqlRow): EnrolmentTokenRow => ({
  id: r.id,
  name: r.name,
  tokenHash: r.token_hash,
  labels: r.labels,
  expiresAt: new Date(r.expires_at),
  maxUses: r.max_uses,
  uses: r.uses,
  createdBy: r.created_by,
  createdAt: new Date(r.created_at),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
});

/** Create one; the token is answered once and stored only as its sha256. */
export async function createEnrolmentToken(cp: ControlPlane, input: EnrolmentTokenInput, createdBy: string): Promise<EnrolmentTokenView & { token: string }> {
  const sql = cp.database.sql;
  const token = generateToken('enrolment');
  const [row] = await sql<SqlRow[]>`
    insert into enrolment_tokens (id, name, token_hash, labels, expires_at, max_uses, created_by)
    values (${newId('enr')}, ${input.name ?? null}, ${hashToken(token)}, ${JSON.stringify(input.labels)}::jsonb, ${new Date(input.expiresAt).toISOString()}::timestamptz, ${input.maxUses ?? null}, ${createdBy})
    returning *`;
  return { ...enrolmentTokenView(fromSql(row!)), token };
}

/** Newest first, revoked and expired ones included (their status says so), keyset-paged on (created_at, id). */
export async function listEnrolmentTokens(cp: ControlPlane, q: { limit: number; cursor?: string }): Promise<{ items: EnrolmentTokenView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  if (q.cursor !== undefined) {
    const [known] = await sql`select 1 from enrolment_tokens where id = ${q.cursor}`;
    if (!known) throw badRequest('validation_failed', 'cursor: is not the nextCursor of a previous page', { field: 'cursor' });
  }
  const rows = await sql<SqlRow[]>`
    select * from enrolment_tokens
    ${q.cursor === undefined ? sql`` : sql`where (created_at, id) < (select created_at, id from enrolment_tokens where id = ${q.cursor})`}
    order by created_at desc, id desc
    limit ${q.limit + 1}`;
  const items = rows.slice(0, q.limit).map((r) => enrolmentTokenView(fromSql(r)));
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}

export async function getEnrolmentToken(cp: ControlPlane, id: string): Promise<EnrolmentTokenView> {
  const [row] = await cp.database.sql<SqlRow[]>`select * from enrolment_tokens where id = ${id}`;
  if (!row) throw notFound('enrolment token', id);
  return enrolmentTokenView(fromSql(row));
}

/**
 * Revoke: no agent is enrolled with it from now on (the enrolment's conditional UPDATE checks
 * `revoked_at`). Agents it already enrolled keep their own tokens: revoke those one by one.
 * Revoking again is a no-op that keeps the first time.
 */
export async function revokeEnrolmentToken(cp: ControlPlane, id: string): Promise<void> {
  const [row] = await cp.database.sql`update enrolment_tokens set revoked_at = coalesce(revoked_at, now()) where id = ${id} returning id`;
  if (!row) throw notFound('enrolment token', id);
}

/** Why an enrolment token was refused, for the 401: the holder already has the token, so saying which rule it broke tells them nothing new. */
export function enrolmentRefusal(row: EnrolmentTokenRow | undefined): AppError {
  if (!row) return new AppError(401, 'unauthorized', 'the enrolment token is not valid');
  switch (enrolmentTokenStatus(row)) {
    case 'revoked':
      return new AppError(401, 'unauthorized', 'the enrolment token was revoked; ask for a new one');
    case 'expired':
      return new AppError(401, 'unauthorized', `the enrolment token expired at ${row.expiresAt.toISOString()}; ask for a new one`);
    case 'used_up':
      return new AppError(401, 'unauthorized', `the enrolment token has enrolled its ${row.maxUses} agent(s) (maxUses); ask for a new one`);
    case 'active':
      // Lost a race: it was valid again by the time we looked (cannot happen: the state only moves forward).
      return new AppError(401, 'unauthorized', 'the enrolment token is not valid');
  }
}

export { fromSql as enrolmentTokenFromSql, type SqlRow as EnrolmentTokenSqlRow };
