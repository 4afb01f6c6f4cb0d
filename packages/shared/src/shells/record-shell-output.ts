import type postgres from 'postgres';

/**
 * 1: what the PTY wrote; 0: what clients typed, stored only with VMO_SHELL_RECORD_INPUT=true
 * (services/api gateway/shell-relay-holder.ts), numbered by its own byte offsets.
 */
export type ShellRecordStream = 0 | 1;

/**
 * SHELL.md §S7: store one chunk at its byte offset, under the cap (the first `capBytes` of the
 * session are kept, as a job keeps its head). A replayed chunk is the same key: nothing twice.
 * Returns the bytes newly stored.
 */
export async function recordShellChunk(sql: postgres.Sql, sessionId: string, stream: ShellRecordStream, offset: number, data: Buffer, capBytes: number): Promise<number> {
  if (offset >= capBytes) return 0;
  const kept = offset + data.length > capBytes ? data.subarray(0, capBytes - offset) : data;
  const inserted = await sql`insert into shell_output (session_id, stream, "offset", data) values (${sessionId}, ${stream}, ${offset}, ${kept})
    on conflict do nothing returning 1`;
  if (inserted.length === 0 || stream !== 1) return 0;
  await sql`update shell_sessions set recorded_bytes = recorded_bytes + ${kept.length} where id = ${sessionId}`;
  return kept.length;
}

/** Where the next recorded input byte goes: the end of the stored input (0 for none). */
export async function recordedInputEnd(sql: postgres.Sql, sessionId: string): Promise<number> {
  const [row] = await sql<{ end: string }[]>`select coalesce(max("offset" + length(data)), 0) as end from shell_output
    where session_id = ${sessionId} and stream = 0`;
  return Number(row!.end);
}

/** GET /v1/sessions/{id}/logs: one recorded stream in offset order (a page of chunks after `after`). */
export async function readShellOutput(sql: postgres.Sql, sessionId: string, after = -1, limit = 1000, stream: ShellRecordStream = 1): Promise<{ offset: number; data: Buffer }[]> {
  const rows = await sql<{ offset: string; data: Buffer }[]>`select "offset", data from shell_output
    where session_id = ${sessionId} and stream = ${stream} and "offset" > ${after} order by "offset" limit ${limit}`;
  return rows.map((r) => ({ offset: Number(r.offset), data: r.data }));
}
