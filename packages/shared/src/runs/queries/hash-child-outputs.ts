import { createHash, type Hash } from 'node:crypto';
import type { Sql } from 'postgres';
import { TERMINAL_STATUSES } from '../../domain/job-status.ts';
import type { SummaryDeadline } from './summary-deadline.ts';

/** Chunks read per round trip: at most 64 × 64 KiB (MAX_CHUNK_BYTES) = 4 MiB in memory, whatever the outputs. */
const CHUNKS_PER_READ = 64;
/** Hashes stored per statement. */
const STORE_BATCH = 500;
/** A store is small (primary-key updates); it gets its own time so work done is kept even after the deadline. */
const STORE_TIMEOUT_MS = 5_000;

interface Hashing {
  id: string;
  /** Last seq read. */
  after: number;
  hash: Hash;
  bytes: number;
}

interface Hashed {
  id: string;
  sha256: string;
  bytes: number;
}

/**
 * Computes and stores `jobs.output_sha256` for every final child of the run that has none yet:
 * the sha256 of its stored chunks (both streams) in seq order, the exact bytes
 * GET /v1/jobs/{id}/logs answers. A child's bytes are read once, ever: a later summary finds the
 * hash stored. Not-final children are left alone (their output still grows).
 *
 * Why here and not in Postgres: Postgres has no incremental sha256, so hashing there means
 * building the whole output as one value (`sha256(string_agg(…))`: gigabytes of memory for a
 * large output, and an error past 1 GiB). Hashing each chunk in Postgres and hashing the list
 * would send less, but two hosts that printed the same bytes in different writes (chunking
 * follows pipe timing) would land in different groups. So the chunks are streamed through
 * node:crypto, CHUNKS_PER_READ at a time over the primary key, several children per round trip
 * (a run of 10,000 one-line outputs is ~160 round trips, not 10,000).
 *
 * LOUD: a hash is stored only if the job's `output_bytes` still equals the bytes hashed (the log
 * sink bumps it in the statement that stores a chunk, and clears the hash there too): a chunk that
 * arrives while we read can never leave a hash of less than the whole output.
 */
export async function hashChildOutputs(sql: Sql, runId: string, deadline: SummaryDeadline): Promise<void> {
  const missing = await deadline.run(sql, (tx) => tx<{ id: string }[]>`
    select id from jobs
    where run_id = ${runId} and output_sha256 is null and status in ${tx(TERMINAL_STATUSES as unknown as string[])}
    order by run_index`);
  const queue = missing.map((r) => r.id);
  let next = 0;
  let active: Hashing[] = [];
  const done: Hashed[] = [];
  const flush = async () => {
    while (done.length > 0) await storeHashes(sql, done.splice(0, STORE_BATCH));
  };
  try {
    while (next < queue.length || active.length > 0) {
      while (active.length < CHUNKS_PER_READ && next < queue.length) active.push({ id: queue[next++]!, after: -1, hash: createHash('sha256'), bytes: 0 });
      // Each child gets an equal share of the round trip: one chunk each for 64 children, 64 for one.
      const perChild = Math.max(1, Math.floor(CHUNKS_PER_READ / active.length));
      const rows = await deadline.run(sql, (tx) => tx<{ id: string; seq: number; data: Buffer }[]>`
        select i.id, o.seq, o.data
        from unnest(${active.map((c) => c.id)}::text[], ${active.map((c) => c.after)}::int[]) as i(id, after)
        cross join lateral (
          -- The child's current attempt (issue 14): the output its output_bytes counts.
          select seq, data from job_output where job_id = i.id and attempt = (select greatest(j.attempt, 1) from jobs j where j.id = i.id) and seq > i.after order by seq limit ${perChild}
        ) o`);
      const byChild = new Map<string, { seq: number; data: Buffer }[]>();
      for (const r of rows) {
        let list = byChild.get(r.id);
        if (!list) byChild.set(r.id, (list = []));
        list.push(r);
      }
      const still: Hashing[] = [];
      for (const c of active) {
        const chunks = (byChild.get(c.id) ?? []).sort((a, b) => a.seq - b.seq);
        for (const chunk of chunks) {
          c.hash.update(chunk.data);
          c.bytes += chunk.data.length;
          c.after = chunk.seq;
        }
        // Fewer than asked: that was the last of it.
        if (chunks.length < perChild) done.push({ id: c.id, sha256: c.hash.digest('hex'), bytes: c.bytes });
        else still.push(c);
      }
      active = still;
      if (done.length >= STORE_BATCH) await flush();
    }
  } catch (err) {
    // Out of time (or a failed read): keep what was hashed, so the retry starts from there.
    await flush().catch(() => undefined);
    throw err;
  }
  await flush();
}

/** Stores the hashes of final jobs whose output is still exactly what was hashed. */
async function storeHashes(sql: Sql, hashed: Hashed[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select set_config('statement_timeout', ${String(STORE_TIMEOUT_MS)}, true)`;
    await tx`
      update jobs j set output_sha256 = decode(v.sha256, 'hex')
      from unnest(${hashed.map((h) => h.id)}::text[], ${hashed.map((h) => h.sha256)}::text[], ${hashed.map((h) => h.bytes)}::bigint[]) as v(id, sha256, bytes)
      where j.id = v.id and j.output_sha256 is null and j.output_bytes = v.bytes
        and j.status in ${tx(TERMINAL_STATUSES as unknown as string[])}`;
  });
}
