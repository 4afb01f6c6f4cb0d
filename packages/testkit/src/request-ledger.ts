import { randomUUID } from 'node:crypto';

/** One request a test made through the testkit (ApiClient, its raw `request()`, openWebSocket), as the server answered it. */
export interface RecordedRequest {
  /** `http://127.0.0.1:41234`: which API process (and so which TestSystem) answered. */
  origin: string;
  method: string;
  path: string;
  status: number;
  /** The id the server used: the one it echoed, else the one sent (an upgrade's refusal echoes none). */
  requestId: string;
  /** `upgrade` for a WebSocket upgrade the server refused (one it accepted is an allowed read: no row). */
  kind: 'rest' | 'upgrade';
  /** The error body's code, read only for a 503 (a store outage?) and a 429 (a connection refused before its request was read?). */
  errorCode?: string;
  /** Where in the test it was made: the message of a missing row points there. */
  at: string;
}

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * Every request made through the testkit in this test file (vitest gives each file its own module
 * instance), until the TestSystem whose API answered it claims it at stop() to check its audit
 * rows (audit-check.ts). Requests to an address no TestSystem owns (a stand-alone API process)
 * are never claimed and never checked.
 */
const recorded: RecordedRequest[] = [];

/** A fresh id, valid for the API (http/request-id.ts: `[A-Za-z0-9._:@/+=-]{1,128}`) and unique across the suite. */
export const newRequestId = (): string => `tk-${randomUUID()}`;

/** `stack`: taken when the request was sent (`new Error().stack`), before any await cut the test's frame off. */
export function recordRequest(r: Omit<RecordedRequest, 'at'>, stack: string | undefined): void {
  recorded.push({ ...r, at: callerOf(stack) });
}

/** Removes and returns the requests answered at these origins. */
export function claimRequests(origins: ReadonlySet<string>): RecordedRequest[] {
  const mine: RecordedRequest[] = [];
  for (let i = recorded.length - 1; i >= 0; i--) {
    if (origins.has(recorded[i]!.origin)) mine.unshift(...recorded.splice(i, 1));
  }
  return mine;
}

/**
 * `fetch` for @vmo/client's VmoClient: sends an X-Request-Id with every request (unless the test
 * set its own, which is then what the server uses, if valid) and records the answer. A request
 * that got no answer (refused connection, reset, abort) is not recorded: the server may never
 * have seen it.
 */
export function recordingFetch(base: typeof fetch = globalThis.fetch.bind(globalThis)): typeof fetch {
  return async (input, init) => {
    const stack = new Error().stack;
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers = new Headers(init?.headers);
    if (!headers.has(REQUEST_ID_HEADER)) headers.set(REQUEST_ID_HEADER, newRequestId());
    const sent = headers.get(REQUEST_ID_HEADER)!;
    const res = await base(input, { ...init, headers });
    const errorCode = res.status === 503 || res.status === 429 ? await errorCodeOf(res.clone()) : undefined;
    recordRequest({
      origin: url.origin,
      method: (init?.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      status: res.status,
      requestId: res.headers.get(REQUEST_ID_HEADER) ?? sent,
      kind: 'rest',
      ...(errorCode === undefined ? {} : { errorCode }),
    }, stack);
    return res;
  };
}

export async function errorCodeOf(res: { text(): Promise<string> }): Promise<string | undefined> {
  try {
    return errorCodeOfText(await res.text());
  } catch {
    return undefined;
  }
}

export function errorCodeOfText(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** The first frame of the stack outside the testkit: the test's line. */
function callerOf(stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').slice(1).map((l) => l.trim());
  const outside = frames.find((f) => !/\/packages\/(testkit|client)\/src\//.test(f) && !f.includes('node:') && !f.includes('/node_modules/'));
  return (outside ?? frames[0] ?? '').replace(/^at /, '');
}
