import { sql } from 'drizzle-orm';
import { boolean, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { PolicyAction, UserRole } from '../../domain/access.ts';

/** Grants `actions` on the targets `targets` (a label selector) matches to users (by id) and roles. */
export const policies = pgTable(
  'policies',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    subjects: jsonb('subjects').$type<{ users?: string[]; roles?: UserRole[] }>().notNull(),
    actions: jsonb('actions').$type<PolicyAction[]>().notNull(),
    /**
     * A label selector (Kubernetes syntax) over agents and hosts (`''` matches every one of them).
     * Null: no agent or host, for a policy that only grants the `local` target.
     */
    targets: text('targets'),
    /** Also grants the actions on the `local` target (the control plane's own workers), which is admins' only otherwise. */
    local: boolean('local').notNull().default(false),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [uniqueIndex('policies_name_idx').on(t.name)],
);
