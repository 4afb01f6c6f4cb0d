import { sql } from 'drizzle-orm';
import { boolean, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { UserRole } from '../../domain/access.ts';

/**
 * People. `source`: `local` (created by an admin) or `proxy` (created on first sight behind the
 * trusted auth proxy, named by its user header). A disabled user's tokens and proxy identity are
 * refused (401) at once; the row stays (jobs, runs and audit rows name it).
 */
export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    email: text('email'),
    role: text('role').$type<UserRole>().notNull(),
    disabled: boolean('disabled').notNull().default(false),
    source: text('source').$type<'local' | 'proxy'>().notNull().default('local'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  // Names are how people and proxies refer to users: unique, compared exactly.
  (t) => [uniqueIndex('users_name_idx').on(t.name)],
);
