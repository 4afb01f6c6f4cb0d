/**
 * A control plane over a fresh database and Redis prefix, in the test's own process, for the
 * run tests that need no other process: agents and hosts are written straight into their tables,
 * and a child's progress is driven through the lifecycle (`transition`), as a worker would.
 */
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, type TestDatabase } from '@vmo/testkit';
import type { ControlPlane } from '../src/control-plane/index.ts';
import { openDatabase } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import type { JobRow } from '../src/jobs/index.ts';
import { rowToJob } from '../src/jobs/index.ts';
import { createLogger } from '../src/logger.ts';
import { createJobQueue } from '../src/queue/index.ts';
import { createRedis, keys } from '../src/redis.ts';
import { RunInput, rowToRun, type RunRow } from '../src/runs/index.ts';

export interface RunTestPlane {
  cp: ControlPlane;
  db: TestDatabase;
  addAgent(name: string, opts?: { labels?: Record<string, string>; reported?: Record<string, string>; revoked?: boolean }): Promise<string>;
  addHost(name: string, environment?: string, labels?: Record<string, string>): Promise<string>;
  run(id: string): Promise<RunRow>;
  children(runId: string): Promise<JobRow[]>;
  close(): Promise<void>;
}

export async function openRunTestPlane(label: string): Promise<RunTestPlane> {
  const db = await createTestDatabase(label);
  const prefix = createTestPrefix(label);
  const database = openDatabase(db.url, { max: 10 });
  const redis = createRedis(TEST_REDIS_URL);
  const k = keys(prefix.prefix);
  const queue = createJobQueue(redis, k.bullPrefix);
  const cp: ControlPlane = {
    database,
    redis,
    queue,
    keys: k,
    log: createLogger(label, 'silent'),
    limits: { maxOutputBytes: 1 << 20, tailBytes: 1 << 16, agentGraceMs: 10_000, heartbeatMs: 1000 },
  };
  const sql = database.sql;
  return {
    cp,
    db,
    async addAgent(name, opts = {}) {
      const id = newId('agt');
      await sql`
        insert into agents (id, name, token_hash, labels, reported_labels, revoked_at)
        values (${id}, ${name}, ${`hash-${id}`}, ${JSON.stringify(opts.labels ?? {})}::jsonb, ${JSON.stringify(opts.reported ?? {})}::jsonb,
                ${opts.revoked ? sql`now()` : null})`;
      return id;
    },
    async addHost(name, environment = 'default', labels = {}) {
      const id = newId('host');
      await sql`
        insert into hosts (id, name, environment, host, "user", labels)
        values (${id}, ${name}, ${environment}, '127.0.0.1', 'nobody', ${JSON.stringify(labels)}::jsonb)`;
      return id;
    },
    async run(id) {
      const [row] = await sql`select * from runs where id = ${id}`;
      return rowToRun(row!);
    },
    async children(runId) {
      return (await sql`select * from jobs where run_id = ${runId} order by run_index`).map(rowToJob);
    },
    async close() {
      await queue.close().catch(() => {});
      redis.disconnect();
      await database.close();
      await db.drop();
      await prefix.cleanup();
    },
  };
}

/** A POST /v1/runs body with its defaults, as the route hands it over. */
export const runInput = (body: Record<string, unknown>): RunInput => RunInput.parse({ command: 'true', ...body });
