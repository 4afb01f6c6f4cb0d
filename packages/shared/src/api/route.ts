import { z } from 'zod';

export interface ApiResponse {
  description: string;
  /** Response headers the API sets, by their documented name. */
  headers?: z.ZodObject;
  /** By media type. */
  content?: Record<string, { schema: z.ZodType }>;
}

/**
 * One route of the API as data: what it takes (path parameters, query, headers, body) and every
 * answer it gives (2xx and each error status), as zod schemas. The API validates requests and
 * builds the OpenAPI document from it (services/api/src/http/openapi-route.ts); the client
 * (packages/client) builds requests and types answers from it. `path` is in OpenAPI form
 * (`/v1/jobs/{id}`). Nothing here imports server code, so a browser bundle may use it.
 */
export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: `/${string}`;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** `[]` for the few routes that need no token; absent: a user token (the document's default). */
  security?: Record<string, string[]>[];
  request?: {
    params?: z.ZodObject;
    query?: z.ZodObject;
    /** Header names as they are documented and named in errors (`Idempotency-Key`). */
    headers?: z.ZodObject;
    body?: { description?: string; required: boolean; content: { 'application/json': { schema: z.ZodType } } };
  };
  responses: Record<number, ApiResponse>;
}

/** Identity, for inference: keeps the literal method, path and status codes of a route. */
export const defineRoute = <R extends ApiRoute>(route: R): R => route;

/** `content` of a JSON answer. */
export const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } }) as const;

/**
 * A whole-number query parameter. The generator cannot see through `z.coerce` (it would document
 * `integer | null`), so its OpenAPI schema is stated from the same bounds.
 */
export function intParam(min: number, max: number, fallback: number, message?: string) {
  return z.coerce
    .number(message === undefined ? undefined : { error: message })
    .int(message)
    .min(min, message)
    .max(max, message)
    .default(fallback)
    .meta({ type: 'integer', minimum: min, maximum: max, default: fallback });
}
