import { publishControl } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import type { PolicyAction } from '../domain/access.ts';
import { isId, newId } from '../domain/ids.ts';
import { AppError, badRequest, notFound } from '../errors/app-error.ts';
import type { PolicyInput, SubjectRole } from './policy-input.ts';

export interface PolicyView {
  id: string;
  name: string;
  subjects: { users: { id: string; name: string | null }[]; roles: SubjectRole[] };
  actions: PolicyAction[];
  targets: string | null;
  local: boolean;
  createdBy: string | null;
  createdAt: string;
}

interface PolicyRow {
  id: string;
  name: string;
  subjects: { users?: string[]; roles?: SubjectRole[] };
  actions: PolicyAction[];
  targets: string | null;
  local: boolean;
  created_by: string | null;
  created_at: Date;
}

/**
 * POST /v1/policies (admin): users named by id or name are stored by id (a rename does not
 * unbind them); one nobody has is a 422 `unknown_user` naming it, and nothing is created.
 */
export async function createPolicy(cp: ControlPlane, input: PolicyInput, createdBy: string | null): Promise<PolicyView> {
  const sql = cp.database.sql;
  const refs = input.subjects.users ?? [];
  const found = refs.length === 0 ? [] : await sql<{ id: string; name: string }[]>`select id, name from users where id in ${sql(refs)} or name in ${sql(refs)}`;
  const userIds: string[] = [];
  refs.forEach((ref, i) => {
    // An id wins over a name (ids and names are distinct spaces; an id is never a name someone typed by accident).
    const user = found.find((u) => u.id === ref) ?? found.find((u) => u.name === ref);
    if (!user) {
      throw new AppError(422, 'unknown_user', `subjects.users.${i}: no user with id or name ${JSON.stringify(ref)}; see GET /v1/users`, { field: `subjects.users.${i}`, user: ref });
    }
    if (!userIds.includes(user.id)) userIds.push(user.id);
  });
  const subjects = { users: userIds, roles: [...new Set(input.subjects.roles ?? [])] };
  try {
    const [row] = await sql<PolicyRow[]>`
      insert into policies (id, name, subjects, actions, targets, local, created_by)
      values (${newId('pol')}, ${input.name}, ${JSON.stringify(subjects)}::jsonb, ${JSON.stringify(input.actions)}::jsonb,
              ${input.targets ?? null}, ${input.local}, ${createdBy})
      returning *`;
    return (await viewsOf(cp, [row!]))[0]!;
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new AppError(409, 'policy_exists', `name: a policy named ${JSON.stringify(input.name)} already exists; delete it first to replace it`, { field: 'name' });
    throw err;
  }
}

/** GET /v1/policies (admin): by name, keyset on (name, id); the cursor is the last policy's id. */
export async function listPolicies(cp: ControlPlane, q: { limit: number; cursor?: string }): Promise<{ items: PolicyView[]; nextCursor: string | null }> {
  const sql = cp.database.sql;
  if (q.cursor !== undefined) {
    const [at] = await sql`select 1 from policies where id = ${q.cursor}`;
    if (!at) throw badRequest('validation_failed', `cursor: ${q.cursor} is not a policy; pass the nextCursor of a previous page`, { field: 'cursor' });
  }
  const rows = await sql<PolicyRow[]>`
    select * from policies
    ${q.cursor === undefined ? sql`` : sql`where (name collate "C", id) > (select p.name collate "C", p.id from policies p where p.id = ${q.cursor})`}
    order by name collate "C", id
    limit ${q.limit + 1}`;
  const items = await viewsOf(cp, rows.slice(0, q.limit));
  return { items, nextCursor: rows.length > q.limit ? items[items.length - 1]!.id : null };
}

/** DELETE /v1/policies/{id} (admin), by id or name: what it granted is withdrawn from the next request on, on every node. */
export async function deletePolicy(cp: ControlPlane, ref: string): Promise<PolicyView> {
  const sql = cp.database.sql;
  const [row] = await sql<PolicyRow[]>`delete from policies where ${isId('pol', ref) ? sql`id = ${ref}` : sql`name = ${ref}`} returning *`;
  if (!row) throw notFound('policy', ref);
  // Streams the policy let someone read are checked again by every API node (BUS.md §6).
  await publishControl(cp, { type: 'access_changed' });
  return (await viewsOf(cp, [row]))[0]!;
}

/** Each policy with its users' names (null for a user gone from the table), in one query. */
async function viewsOf(cp: ControlPlane, rows: PolicyRow[]): Promise<PolicyView[]> {
  const ids = [...new Set(rows.flatMap((r) => r.subjects.users ?? []))];
  const sql = cp.database.sql;
  const users = ids.length === 0 ? [] : await sql<{ id: string; name: string }[]>`select id, name from users where id in ${sql(ids)}`;
  const nameOf = new Map(users.map((u) => [u.id, u.name]));
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    subjects: { users: (r.subjects.users ?? []).map((id) => ({ id, name: nameOf.get(id) ?? null })), roles: r.subjects.roles ?? [] },
    actions: r.actions,
    targets: r.targets,
    local: r.local,
    createdBy: r.created_by,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}
