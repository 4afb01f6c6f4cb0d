/** A timestamp as the driver gives it (a Date, or Postgres text such as `2026-12-01 02:58:32.97+00`) in ISO 8601, as every workspace answer carries times. */
export const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
