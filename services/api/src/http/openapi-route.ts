import type { Context, TypedResponse } from 'hono';
import type { OpenAPIHono, RouteConfig, RouteConfigToTypedResponse } from '@hono/zod-openapi';
import type { z } from 'zod';
import type { ApiRoute } from '@vmo/shared/api';
import { validationError } from '@vmo/shared/errors';
import type { TokenScope } from '@vmo/shared/domain';
import { allows, scopeDenied } from '../auth/permissions.ts';
import type { AuthEnv } from '../auth/principal.ts';
import { jsonBody, queryParams } from './json-body.ts';
import { pathParam } from './path-param.ts';

type Out<S> = S extends z.ZodType ? z.output<S> : never;
type Request<R extends ApiRoute> = NonNullable<R['request']>;
type BodySchema<R extends ApiRoute> = NonNullable<Request<R>['body']>['content']['application/json']['schema'];

/**
 * A route's validated input, read when the handler asks: the handler decides the order (a job's
 * existence is checked before its cancel body is read, as it always was), and each reader answers
 * the same 400s as before the routes were schemas.
 */
export interface RouteInput<R extends ApiRoute> {
  /** Path parameters: a value Postgres cannot store is a 400 naming it; anything else goes on (an unknown id is the handler's 404). */
  params(): Out<Request<R>['params']>;
  /** The query, strict: unknown parameters are 400 (queryParams). */
  query(): Out<Request<R>['query']>;
  /** The documented headers, read by their documented name (`Idempotency-Key`), which a 400 names. */
  headers(): Out<Request<R>['headers']>;
  /** The JSON body (jsonBody): any content type, `invalid_json` when it is not a JSON object; `{}` when absent and optional. */
  body(): Promise<Out<BodySchema<R>>>;
}

type MaybePromise<T> = T | Promise<T>;
/** What a handler may answer: a status and body the route declares (tsc checks), or a response it builds (the raw logs). */
type Answer<R extends RouteConfig> = RouteConfigToTypedResponse<R> | (Response & TypedResponse<null, 204, 'body'>);

/** `/v1/jobs/{id}` → `/v1/jobs/:id`. */
const honoPath = (path: string) => path.replaceAll(/\{([^}]+)\}/g, ':$1');

/**
 * Serve a route of @vmo/shared/api on `app` and add it to the app's OpenAPI registry.
 *
 * Why not `app.openapi()`: its validators refuse what this API has always accepted. Its JSON body
 * check answers 415 to a body sent without `Content-Type: application/json` (curl -d sends form
 * encoding), and its query validator turns a repeated parameter into an array. Here the same
 * contract is validated by the API's own readers (json-body.ts, path-param.ts), so every 400 keeps
 * its code, its message starting with the field, and `details.field`.
 */
export function openapiRoute<R extends ApiRoute & RouteConfig>(
  app: OpenAPIHono<AuthEnv>,
  route: R,
  handler: (c: Context<AuthEnv>, input: RouteInput<R>) => MaybePromise<Answer<R>>,
  access?: RouteAccess,
): void {
  const scopes = access === undefined ? [] : typeof access.scope === 'string' ? [access.scope] : access.scope;
  // The scopes a caller needs are part of the document (OpenAPI 3.1 allows them on any scheme).
  app.openAPIRegistry.registerPath(scopes.length > 0 && route.security === undefined ? { ...route, security: [{ userToken: [...scopes] }] } : route);
  // LOUD: checked in the route's one handler, before its input is read: a caller without the
  // scope learns nothing from the route (not even whether its body or the thing it names is valid).
  app.on(route.method.toUpperCase(), honoPath(route.path), async (c) => {
    for (const scope of scopes) if (!allows(c.get('principal'), scope)) throw scopeDenied(c.get('principal'), scope);
    return (await handler(c, readers(c, route))) as Response;
  });
}

/** What a caller needs for a route (requireScope, in the route's own handler): every scope listed, narrowed by the role and the token's scopes. */
export interface RouteAccess {
  scope: TokenScope | readonly TokenScope[];
}

function readers<R extends ApiRoute>(c: Context<AuthEnv>, route: R): RouteInput<R> {
  const { params, query, headers, body } = route.request ?? {};
  return {
    params() {
      if (!params) return undefined as never;
      const values = Object.fromEntries(Object.keys(params.shape).map((name) => [name, pathParam(c, name)]));
      const parsed = params.safeParse(values);
      if (!parsed.success) throw validationError(parsed.error, 'path');
      return parsed.data as never;
    },
    query() {
      return (query ? queryParams(c, query) : undefined) as never;
    },
    headers() {
      if (!headers) return undefined as never;
      const values = Object.fromEntries(Object.keys(headers.shape).map((name) => [name, c.req.header(name)]));
      const parsed = headers.safeParse(values);
      if (!parsed.success) throw validationError(parsed.error, 'headers');
      return parsed.data as never;
    },
    async body() {
      if (!body) return undefined as never;
      return (await jsonBody(c, body.content['application/json'].schema, { optional: !body.required })) as never;
    },
  };
}
