import type { Context } from 'hono';
import { unstorableReason, unstorableTextError } from '@vmo/shared/errors';

/**
 * A path parameter as Hono decoded it, refused with a 400 naming it when Postgres could not
 * store it. Hono decodes `%00` to U+0000; a malformed escape (`%E0%A4%A`) or an encoded surrogate
 * (`%ED%A0%80`, not UTF-8) fails to decode and is kept raw, which is plain ASCII: that one is just
 * an unknown name (404).
 */
export function pathParam(c: Context, name: string): string {
  return checkedPathValue(c.req.param(name) ?? '', name);
}

/** The same check for a path segment decoded outside Hono (the WebSocket upgrade path). */
export function checkedPathValue(value: string, name: string): string {
  const reason = unstorableReason(value);
  if (reason) throw unstorableTextError(name, reason);
  return value;
}
