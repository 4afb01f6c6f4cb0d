import type { Sql, TransactionSql } from 'postgres';
import { pgErrorCode } from '../../db/pg-error-code.ts';
import { AppError } from '../../errors/app-error.ts';

/** SQLSTATE of a statement cut by `statement_timeout` (or canceled). */
const QUERY_CANCELED = '57014';

/**
 * The time one GET /v1/runs/{id}/summary may take, Postgres included: every statement runs with
 * `statement_timeout` set to what is left, so a run too large to summarise in time is a 503
 * `summary_timeout` the client can retry (hashes already stored are kept), never a request that
 * holds a connection and a backend for minutes, nor a 500.
 */
export class SummaryDeadline {
  readonly at: number;

  constructor(readonly limitMs: number) {
    this.at = Date.now() + limitMs;
  }

  /** Throws `summary_timeout` once the time is spent. */
  check(): void {
    if (Date.now() >= this.at) throw this.timeout();
  }

  /**
   * `fn` in a transaction of its own whose statements stop when the deadline passes
   * (`set_config(…, true)` is `SET LOCAL`: it ends with the transaction, so the pooled connection
   * goes back without it).
   */
  async run<T>(sql: Sql, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
    this.check();
    const ms = Math.max(1, this.at - Date.now());
    try {
      return (await sql.begin(async (tx) => {
        await tx`select set_config('statement_timeout', ${String(ms)}, true)`;
        return fn(tx);
      })) as T;
    } catch (err) {
      if (pgErrorCode(err) === QUERY_CANCELED) throw this.timeout();
      throw err;
    }
  }

  private timeout(): AppError {
    return new AppError(
      503,
      'summary_timeout',
      `the summary was not ready within ${this.limitMs} ms (its children's output is still being hashed, or Postgres is slow); retry: the hashes computed so far are kept`,
    );
  }
}
