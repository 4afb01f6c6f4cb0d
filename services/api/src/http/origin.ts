import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { forbidden, type AppError } from '@vmo/shared/errors';

/**
 * Which browser pages may use the API: the `Origin` of a request (browsers send it on every
 * WebSocket upgrade and on cross-origin requests) must be the API's own origin or one of
 * VMO_ALLOWED_ORIGINS.
 *
 * Why it matters although tokens are bearer tokens: behind an auth proxy (VMO_TRUSTED_PROXIES), the
 * browser's session cookie makes the proxy add the user header to any request the browser sends,
 * whichever page asked for it. Without this check a hostile page could open a job stream as that
 * user (cross-site WebSocket hijacking) or POST a job as `text/plain` (no preflight; the API reads
 * any body as JSON). A request without `Origin` is not from a browser page (the CLI, curl, `ws` in
 * Node, an agent) and is let through: the attack needs a browser.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  /** `allowed`: normalised origins (`https://vmo.example.com`), as VMO_ALLOWED_ORIGINS parses them. */
  constructor(allowed: readonly string[]) {
    this.allowed = new Set(allowed);
  }

  /** The refusal for a request with this `Origin` and `Host`, or undefined when it may go on. */
  refusal(origin: string | undefined, host: string | undefined): AppError | undefined {
    if (origin === undefined) return undefined;
    const url = parseUrl(origin.trim());
    if (url && (this.allowed.has(url.origin) || sameOrigin(url, host))) return undefined;
    // LOUD: the message never quotes the Origin: it is a header value, and refusals are logged.
    return forbidden('the request comes from a web page whose Origin is not allowed here: only the API\'s own origin and VMO_ALLOWED_ORIGINS may use it from a browser');
  }
}

/**
 * Same origin as the API: the Origin's host and port are the request's `Host` (the port defaulted
 * by the Origin's scheme: `https://vmo.example.com` is `Host: vmo.example.com` or
 * `vmo.example.com:443`). The scheme is not compared: `Host` does not carry it, and a TLS-terminating
 * proxy in front of the API turns `https` into `http`. A proxy that rewrites `Host` makes every page
 * look foreign: list the public origin in VMO_ALLOWED_ORIGINS then.
 */
function sameOrigin(origin: URL, host: string | undefined): boolean {
  if (!host || /[/?#@\\\s]/.test(host)) return false;
  return parseUrl(`${origin.protocol}//${host}`)?.host === origin.host;
}

function parseUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * VMO_ALLOWED_ORIGINS: comma-separated origins (`https://vmo.example.com,http://localhost:5173`),
 * each a scheme (http or https), a host and an optional port, nothing after; empty or unset means
 * the API's own origin only. Parsed to normalised origins (lower case, default port dropped).
 */
export const allowedOriginsVar = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const origins: string[] = [];
    for (const entry of value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
      const url = parseUrl(entry);
      // An origin has no path, query, fragment or credentials: `https://x/app` is a mistake (the
      // browser would send `https://x`), so it is refused rather than silently cut. A lone
      // trailing `/` (copied from the address bar) is fine.
      if (!url || url.username || url.password || url.search || url.hash || url.pathname !== '/') {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not an origin: write scheme://host[:port], e.g. https://vmo.example.com, comma-separated` });
        return z.NEVER;
      }
      origins.push(url.origin);
    }
    return origins;
  });

/** For REST: a request from a page of a foreign origin is 403 before anything else (no token is looked at). */
export function requireAllowedOrigin(policy: OriginPolicy): MiddlewareHandler {
  return async function allowedOrigin(c, next) {
    const refusal = policy.refusal(c.req.header('origin'), c.req.header('host'));
    if (refusal) throw refusal;
    await next();
  };
}
