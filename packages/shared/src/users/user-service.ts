import { asc, eq, gt, or, sql as dsql } from 'drizzle-orm';
import { publishControl } from '../bus/publish.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { users } from '../db/schema/users.ts';
import type { UserRole } from '../domain/access.ts';
import { newId } from '../domain/ids.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import type { UserInput, UserPatch } from './user-input.ts';

export type UserRow = typeof users.$inferSelect;

export function userView(row: UserRow) {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    disabled: row.disabled,
    source: row.source,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
export type UserView = ReturnType<typeof userView>;

const nameTaken = (name: string) => new AppError(409, 'user_exists', `name: a user named ${JSON.stringify(name)} already exists`, { field: 'name' });

/** POST /v1/users: a local user. Names are unique (409 user_exists). */
export async function createUser(cp: ControlPlane, input: UserInput): Promise<UserView> {
  try {
    const [row] = await cp.database.db.insert(users).values({ id: newId('usr'), name: input.name, email: input.email, role: input.role, source: 'local' }).returning();
    return userView(row!);
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw nameTaken(input.name);
    throw err;
  }
}

/** A user by id or name (names never look like ids: user-input.ts), disabled ones included. */
export async function findUser(cp: ControlPlane, ref: string): Promise<UserRow | undefined> {
  const [row] = await cp.database.db
    .select()
    .from(users)
    .where(or(eq(users.id, ref), eq(users.name, ref)))
    .limit(1);
  return row;
}

export async function getUser(cp: ControlPlane, ref: string): Promise<UserView> {
  const row = await findUser(cp, ref);
  if (!row) throw notFound('user', ref);
  return userView(row);
}

/** GET /v1/users: by name, keyset-paged (the cursor is the last name of the previous page). */
export async function listUsers(cp: ControlPlane, q: { limit: number; cursor?: string | undefined }): Promise<{ items: UserView[]; nextCursor: string | null }> {
  const rows = await cp.database.db
    .select()
    .from(users)
    .where(q.cursor === undefined ? undefined : gt(users.name, q.cursor))
    .orderBy(asc(users.name))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { items: page.map(userView), nextCursor: rows.length > q.limit ? page[page.length - 1]!.name : null };
}

/**
 * PATCH /v1/users/{id}. Nothing is cached about users anywhere (auth/token-store.ts reads the user
 * with the token on every request), so a new role or `disabled` holds from the next request on
 * every API node.
 */
export async function updateUser(cp: ControlPlane, ref: string, patch: UserPatch): Promise<UserView> {
  const current = await findUser(cp, ref);
  if (!current) throw notFound('user', ref);
  const set = {
    ...(patch.name === undefined ? {} : { name: patch.name }),
    ...(patch.email === undefined ? {} : { email: patch.email }),
    ...(patch.role === undefined ? {} : { role: patch.role }),
    ...(patch.disabled === undefined ? {} : { disabled: patch.disabled }),
  };
  if (Object.keys(set).length === 0) return userView(current);
  try {
    const [row] = await cp.database.db
      .update(users)
      .set({ ...set, updatedAt: dsql`now()` })
      .where(eq(users.id, current.id))
      .returning();
    // A disabled user's or a changed role's open streams are checked again by every API node (BUS.md §6).
    await publishControl(cp, { type: 'access_changed' });
    return userView(row!);
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION && patch.name !== undefined) throw nameTaken(patch.name);
    throw err;
  }
}

/**
 * The user the trusted auth proxy names, created on first sight with `role` (source `proxy`). An
 * existing user of that name, whatever its source, is that user: an admin may create `alice` as an
 * operator before her first visit. The email the proxy sends is kept up to date (a write only when
 * it changed). Two first requests at once: one insert wins, the other reads its row.
 */
export async function proxyUser(cp: ControlPlane, name: string, email: string | null, role: UserRole): Promise<UserRow> {
  const { db } = cp.database;
  const existing = await findByName(cp, name);
  if (existing) {
    if (email === null || existing.email === email) return existing;
    const [updated] = await db.update(users).set({ email, updatedAt: dsql`now()` }).where(eq(users.id, existing.id)).returning();
    return updated ?? existing;
  }
  const [created] = await db.insert(users).values({ id: newId('usr'), name, email, role, source: 'proxy' }).onConflictDoNothing().returning();
  if (created) return created;
  const raced = await findByName(cp, name);
  if (!raced) throw new Error('a proxy user was neither inserted nor found');
  return raced;
}

async function findByName(cp: ControlPlane, name: string): Promise<UserRow | undefined> {
  const [row] = await cp.database.db.select().from(users).where(eq(users.name, name)).limit(1);
  return row;
}
