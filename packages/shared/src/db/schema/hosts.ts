import { sql } from 'drizzle-orm';
import { integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export type HostKeyPolicy = 'strict' | 'accept-new';

/**
 * Agentless hosts: machines jobs reach over SSH from a worker. `environment` defaults to
 * `'default'` (never empty), so `name@environment` is always a complete reference.
 */
export const hosts = pgTable(
  'hosts',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    environment: text('environment').notNull().default('default'),
    /** Address dialled: DNS name or IP (OpenSSH's HostName). */
    host: text('host').notNull(),
    user: text('user').notNull(),
    port: integer('port').notNull().default(22),
    description: text('description').notNull().default(''),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    /** A path on the worker's machine (`~` is the worker's home). */
    identityFile: text('identity_file'),
    /** OpenSSH ProxyJump: comma-separated hops, each an inventory host or `[user@]host[:port]`. */
    proxyJump: text('proxy_jump'),
    hostKeyPolicy: text('host_key_policy').$type<HostKeyPolicy>().notNull().default('strict'),
    /** Trusted host keys, each `"<algorithm> <base64 key blob>"` as in known_hosts. */
    pinnedHostKeys: jsonb('pinned_host_keys').$type<string[]>().notNull().default([]),
    /** At most this many of its jobs running at once; the rest wait `queued`, first in first out. Null: no limit. */
    maxConcurrentJobs: integer('max_concurrent_jobs'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    // POST/PATCH uniqueness (409), and `name@environment` resolution for job targets and imports.
    uniqueIndex('hosts_name_environment_idx').on(t.name, t.environment),
  ],
);
