import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { MAX_CHUNK_BYTES } from '@vmo/shared/protocol';
import { emit, exitAfter, finish, loadArgs } from '../load/emit.ts';
import { preciseNow } from '../stats.ts';

/**
 * The output scenario's storage floor (issue 16): the same command's bytes, cut into the chunks the
 * pipeline stores (MAX_CHUNK_BYTES, one per pipe read at most), written by one bare
 * `COPY … FROM STDIN (FORMAT binary)` into a bytea table of job_output's shape (same key, same
 * columns) on the same Postgres. No framing, no acknowledgement, no subscriber: what Postgres
 * alone costs for these bytes.
 */
interface Args {
  command: string;
  databaseUrl: string;
  deadlineMs: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'copy-floor');

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const JOB_ID = Buffer.from('job_copyfloor0000000000');

/** One binary COPY tuple: (job_id text, attempt int4, seq int4, stream int2, data bytea). */
function tuple(seq: number, data: Buffer): Buffer[] {
  const head = Buffer.alloc(2 + 4 + JOB_ID.length + 4 + 4 + 4 + 4 + 4 + 2 + 4);
  let o = head.writeInt16BE(5, 0);
  o = head.writeInt32BE(JOB_ID.length, o);
  o += JOB_ID.copy(head, o);
  o = head.writeInt32BE(4, o);
  o = head.writeInt32BE(1, o);
  o = head.writeInt32BE(4, o);
  o = head.writeInt32BE(seq, o);
  o = head.writeInt32BE(2, o);
  o = head.writeInt16BE(1, o);
  head.writeInt32BE(data.length, o);
  return [head, data];
}

const sql = postgres(args.databaseUrl, { max: 1, onnotice: () => {} });
try {
  await sql`drop table if exists copy_floor`;
  // job_output's shape: the same key and columns (packages/shared/src/db/schema/job-output.ts).
  await sql`create table copy_floor (job_id text not null, attempt integer not null, seq integer not null, stream smallint not null, data bytea not null, primary key (job_id, attempt, seq))`;
  const t0 = preciseNow();
  const copy = await sql`copy copy_floor (job_id, attempt, seq, stream, data) from stdin (format binary)`.writable();
  const child = spawn('/bin/sh', ['-c', args.command], { stdio: ['ignore', 'pipe', 'inherit'] });
  let bytes = 0;
  let seq = 0;
  copy.write(Buffer.concat([SIGNATURE, Buffer.alloc(8)]));
  await pipeline(
    child.stdout,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        const parts: Buffer[] = [];
        for (let off = 0; off < chunk.length; off += MAX_CHUNK_BYTES) parts.push(...tuple(seq++, chunk.subarray(off, off + MAX_CHUNK_BYTES)));
        if (copy.write(Buffer.concat(parts))) done();
        else copy.once('drain', () => done());
      },
    }),
  );
  await new Promise<void>((resolve, reject) => {
    copy.once('finish', resolve);
    copy.once('error', reject);
    copy.end(Buffer.from([0xff, 0xff]));
  });
  const ms = preciseNow() - t0;
  const [row] = await sql<{ n: string; rows: string }[]>`select coalesce(sum(octet_length(data)), 0)::bigint as n, count(*)::bigint as rows from copy_floor`;
  await sql`drop table copy_floor`;
  await sql.end({ timeout: 2 });
  finish({ bytes, stored: Number(row!.n), rows: Number(row!.rows), ms });
} catch (err) {
  emit('error', { message: (err as Error).message });
  await sql.end({ timeout: 2 });
  process.exit(1);
}
