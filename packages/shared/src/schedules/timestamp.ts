/**
 * A time as a query parameter (cast `::timestamptz` in the statement): the driver sends a JS Date
 * only where it knows the column's type, so every time this service sends goes as ISO 8601 text.
 */
export const ts = (d: Date | null): string | null => d?.toISOString() ?? null;

/**
 * A time read back from a raw statement: drizzle's driver setup hands timestamps over as text
 * (`2026-03-29 01:00:00+00`), which Date reads as it is.
 */
export function toDate(v: Date | string): Date;
export function toDate(v: Date | string | null): Date | null;
export function toDate(v: Date | string | null): Date | null {
  return v === null ? null : v instanceof Date ? v : new Date(v);
}
