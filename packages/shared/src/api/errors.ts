import { z } from 'zod';
import { HTTP_ERROR_CODES, HTTP_ERRORS, type HttpErrorCodeFor, type HttpErrorStatus } from '../errors/error-codes.ts';

/** Every error answer of the API, REST and refused WebSocket upgrades alike. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(HTTP_ERROR_CODES).meta({ description: 'Stable: clients branch on it. The statuses of each route list the codes they carry.' }),
      message: z.string().meta({ description: 'For people: what is wrong and what to do. A 400 starts with the field (`timeoutMs: must be at most …`).' }),
      details: z.record(z.string(), z.unknown()).optional().meta({ description: '`field` names the offending field of a 400; other keys depend on the code.' }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer: `{"error":{"code","message","details"?}}`.' });
export type ErrorBody = z.infer<typeof ErrorBody>;

const REASON: Record<HttpErrorStatus, string> = {
  400: 'Bad request',
  401: 'No valid token',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  410: 'Gone',
  413: 'Too large',
  422: 'Refused',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'A store is down',
};

/** For each status a route answers with an error, the codes it may carry there. */
export type ErrorCodes = { [S in HttpErrorStatus]?: readonly HttpErrorCodeFor<S>[] };

type ErrorResponse = { description: string; content: { 'application/json': { schema: typeof ErrorBody } } };

/** The OpenAPI responses for a route's errors, each described by the codes it may carry. */
export function errorResponses<const E extends ErrorCodes>(errors: E): { [S in keyof E]: ErrorResponse } {
  const entries = Object.entries(errors as Record<string, readonly (keyof typeof HTTP_ERRORS)[]>).map(([status, codes]) => {
    const meanings = codes.map((code) => `\`${code}\`: ${HTTP_ERRORS[code].meaning}`).join('; ');
    return [status, { description: `${REASON[Number(status) as HttpErrorStatus]}. ${meanings}.`, content: { 'application/json': { schema: ErrorBody } } }];
  });
  return Object.fromEntries(entries) as { [S in keyof E]: ErrorResponse };
}

/** Any request can meet these: the connection limit (answered before the request is read) and a bug. */
export const SERVED = { 429: ['too_many_connections'], 500: ['internal'] } as const;

/**
 * Every /v1 route but the document: the Origin check (403), the token check (Postgres) and the
 * limit on failed ones (429 rate_limited), the 1 MiB body limit, bad input.
 */
export const AUTHENTICATED = {
  400: ['validation_failed'],
  401: ['unauthorized'],
  403: ['forbidden'],
  413: ['payload_too_large'],
  503: ['unavailable'],
  ...SERVED,
  429: ['too_many_connections', 'rate_limited'],
} as const;
