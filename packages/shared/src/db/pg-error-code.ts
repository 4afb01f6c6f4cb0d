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
