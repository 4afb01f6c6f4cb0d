import type { Sql } from 'postgres';
import type { RunStatus } from '../../domain/run-status.ts';

/** A run's status and size by id (one primary-key probe), or undefined when there is no such run. */
export async function getRunHead(sql: Sql, runId: string): Promise<{ status: RunStatus; total: number } | undefined> {
  const [row] = await sql<{ status: RunStatus; total: number }[]>`select status, total from runs where id = ${runId}`;
  return row;
}
