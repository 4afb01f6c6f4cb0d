import type { Duplex } from 'node:stream';
import { errorBody } from '@vmo/shared/errors';
import type { AppError } from '@vmo/shared/errors';
import { retryAfterOf } from './rate-limit.ts';

const refusals = new WeakMap<Duplex, number>();

/** The status an upgrade's socket was refused with, if it was (for its access line). */
export const refusalStatusOf = (socket: Duplex): number | undefined => refusals.get(socket);

/** Refuse a WebSocket upgrade with a plain HTTP answer carrying the JSON error body. */
export function rejectUpgrade(socket: Duplex, err: AppError): void {
  refusals.set(socket, err.status);
  const body = JSON.stringify(errorBody(err));
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[err.status as 400] ?? 'Error';
  const retryAfter = retryAfterOf(err);
  socket.end(
    `HTTP/1.1 ${err.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retryAfter ? `Retry-After: ${retryAfter}\r\n` : ''}Connection: close\r\n\r\n${body}`,
  );
}
