/**
 * The Postgres SQLSTATE of a failed query, or undefined. drizzle wraps the driver's error in a
 * DrizzleQueryError whose `cause` carries the code, so look through the cause chain: checking
 * `err.code` alone misses it and a unique violation turns into a 500 instead of a 409.
 */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';

/**
 * A statement Postgres refused for the data it carried, not for the connection: SQLSTATE class 22
 * (data exception), 23 (integrity constraint), 42 (syntax or undefined object: a column missing
 * during a botched deploy counts, no retry fixes it) or 54 (program limit). Worth trying each row of
 * a batch alone, never worth retrying as is. Anything else (no code: a socket error; 08 connection;
 * 57 shutdown; 53 resources) would fail each row alone too, and may pass on a retry.
 */
export function refusedForContent(err: unknown): boolean {
  const code = pgErrorCode(err);
  return code !== undefined && /^(22|23|42|54)/.test(code);
}
