import { createHash } from 'node:crypto';
import type { JobInput } from './job-input.ts';

export { IdempotencyKey } from '../domain/idempotency-key.ts';

export const IDEMPOTENCY_TTL_HOURS = 24;

export interface Idempotency {
  /** Keys are scoped to the caller: two users may use the same key. */
  principal: string;
  key: string;
}

/**
 * "Same body" means the same request after validation and defaults, so key order and omitted
 * defaults do not make two identical submissions differ.
 */
export function requestHash(input: JobInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

/** JSON with keys sorted and undefined members left out: equal requests give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
