import type { AuditEvent } from './audit-event.ts';

const MAX_TEXT = 512;

/**
 * The event as Postgres will store it. Some fields come from the request as the client wrote it
 * (a path segment naming a resource, a forwarded address) and may hold what a text or jsonb column
 * refuses (U+0000, an unpaired surrogate), or be very long.
 *
 * LOUD: one such row would fail the multi-row INSERT it shares with other requests' rows; the
 * writer falls back to one row at a time then, but the row itself must still land, so every
 * string is made storable and bounded here, before it joins a batch.
 */
export function storableAuditEvent(e: AuditEvent): AuditEvent {
  return {
    ...e,
    actorId: text(e.actorId),
    actorName: text(e.actorName),
    tokenId: text(e.tokenId),
    action: text(e.action) ?? 'unknown',
    resourceType: text(e.resourceType),
    resourceId: text(e.resourceId),
    targets: e.targets === null ? null : e.targets.map((t) => text(t)!),
    sourceIp: text(e.sourceIp),
    requestId: text(e.requestId),
    detail: e.detail === null ? null : storableJson(e.detail, 0) as Record<string, unknown>,
  };
}

function text(value: string | null): string | null {
  if (value === null) return null;
  // toWellFormed (Node 20) replaces an unpaired surrogate with U+FFFD; NUL the same way.
  const clean = (value as string & { toWellFormed(): string }).toWellFormed().replaceAll('\0', '\uFFFD');
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT - 1)}…` : clean;
}

function storableJson(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return text(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => storableJson(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), storableJson(v, depth + 1)]));
}
