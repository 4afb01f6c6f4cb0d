import type { z } from 'zod';
import type { ApiRoute } from '@vmo/shared/api';
import { apiError, VmoResponseError } from './errors.ts';

type Request<R extends ApiRoute> = NonNullable<R['request']>;
type Output<S> = S extends z.ZodType ? z.output<S> : never;
type Input<S> = S extends z.ZodType ? z.input<S> : never;
type SuccessStatus<R extends ApiRoute> = Extract<keyof R['responses'], 200 | 201 | 202 | 204>;
type JsonOf<A> = A extends { content: { 'application/json': { schema: infer S extends z.ZodType } } } ? z.output<S> : undefined;

/** What a route takes, typed from its contract. The body as you may send it (defaults left out); the query as the server reads it. */
export interface RouteRequest<R extends ApiRoute> {
  params?: Output<Request<R>['params']>;
  query?: Partial<Output<Request<R>['query']>>;
  headers?: Partial<Output<Request<R>['headers']>>;
  body?: Input<NonNullable<Request<R>['body']>['content']['application/json']['schema']>;
  signal?: AbortSignal;
}

/** The JSON body of a route's 2xx answer, typed from its contract (`undefined` for 204 and non-JSON answers). */
export type RouteOutput<R extends ApiRoute> = JsonOf<R['responses'][SuccessStatus<R>]>;

export interface RouteResult<R extends ApiRoute> {
  status: number;
  headers: Headers;
  body: RouteOutput<R>;
}

export interface HttpOptions {
  baseUrl: string;
  token?: string | undefined;
  fetch: typeof fetch;
  validateResponses: boolean;
}

/** `/v1/jobs/{id}` with `{ id: 'a/b' }` → `/v1/jobs/a%2Fb`, plus the query string (undefined values left out, arrays repeated). */
export function routeUrl(baseUrl: string, route: Pick<ApiRoute, 'path'>, params?: Record<string, unknown>, query?: Record<string, unknown>): string {
  const path = route.path.replaceAll(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new TypeError(`${route.path}: the path parameter "${name}" is missing`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    // An array is a repeated parameter (`?label=a=1&label=b=2`), as the server reads one.
    if (Array.isArray(value)) for (const one of value) search.append(key, String(one));
    else if (value !== undefined) search.set(key, String(value));
  }
  const qs = search.toString();
  return `${baseUrl.replace(/\/+$/, '')}${path}${qs ? `?${qs}` : ''}`;
}

/** Send a route's request; a non-2xx answer throws VmoApiError. The response is returned unread. */
export async function send<R extends ApiRoute>(http: HttpOptions, route: R, req: RouteRequest<R> = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (http.token) headers.authorization = `Bearer ${http.token}`;
  for (const [name, value] of Object.entries((req.headers ?? {}) as Record<string, unknown>)) if (value !== undefined) headers[name] = String(value);
  let body: string | undefined;
  if (req.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.body);
  }
  const res = await http.fetch(routeUrl(http.baseUrl, route, req.params as Record<string, unknown>, req.query as Record<string, unknown>), {
    method: route.method.toUpperCase(),
    headers,
    ...(body === undefined ? {} : { body }),
    ...(req.signal ? { signal: req.signal } : {}),
  });
  if (!res.ok) throw apiError(res.status, await res.text());
  return res;
}

/** Call a route and read its JSON answer, checked against the contract when `validateResponses` is on. */
export async function call<R extends ApiRoute>(http: HttpOptions, route: R, req: RouteRequest<R> = {}): Promise<RouteResult<R>> {
  const res = await send(http, route, req);
  const schema = route.responses[res.status]?.content?.['application/json']?.schema;
  const text = await res.text();
  let body: unknown;
  if (schema && text !== '') {
    body = JSON.parse(text);
    if (http.validateResponses) {
      const checked = schema.safeParse(body);
      if (!checked.success) throw new VmoResponseError(`${route.method.toUpperCase()} ${route.path} (${res.status})`, checked.error.message);
    }
  }
  return { status: res.status, headers: res.headers, body: body as RouteOutput<R> };
}
