import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { Hono, type Context } from 'hono';
import { AppError, errorBody } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';

/**
 * The web dashboard's static files at `/` (packages/dashboard, built by `vite build`): same origin
 * as the API, so no CORS and the token never in a URL.
 *
 * The files are read into memory once (a few hundred KiB): a request never touches the file
 * system, so no path in a URL can make the server read anything but a built file. Any other GET
 * of a page-like path (`/jobs/job_1`, no extension) answers index.html, and the app routes it.
 * The API's own paths (/v1, /health, /metrics, /openapi.json, /docs) are registered before this
 * and never reach it; an unknown /v1 path stays a JSON 404.
 */

interface StaticFile {
  body: Uint8Array;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Paths the API answers itself: never the dashboard's index page. */
const API_PATHS = /^\/(v1|health|metrics|openapi\.json|docs)(\/|$)/;

/**
 * What the dashboard's pages may do in a browser: load only this origin's scripts (no inline
 * script, no eval), talk only to this origin (REST and the `ws:` streams), never be framed.
 * Inline styles are allowed: Svelte's style directives and xterm.js set style attributes.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Every file under `dir` (no symlinks followed), keyed by its URL path; undefined when there is no index.html. */
export function readDashboard(dir: string): Map<string, StaticFile> | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const files = new Map<string, StaticFile>();
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const body = readFileSync(path);
        const url = `/${relative(dir, path).split(sep).join('/')}`;
        files.set(url, { body, type: TYPES[extname(path)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
      }
    }
  };
  walk(dir);
  return files;
}

export interface DashboardOptions {
  /** The built files' folder (VMO_DASHBOARD_DIR; default @vmo/dashboard's dist/). */
  dir: string;
  log: Logger;
  /**
   * Whether this request comes through the trusted login proxy with its user header: the page then
   * asks GET /v1/me without a token. Without a token and without the proxy it shows sign-in at
   * once, so a signed-out visit logs no 401 in the browser's console.
   */
  signedInByProxy?: (c: Context) => boolean;
}

/** GET/HEAD of the dashboard. Registered last: the API's routes answer first. */
export function dashboardRoutes({ dir, log, signedInByProxy = () => false }: DashboardOptions): Hono {
  let files = readDashboard(dir);
  let checkedAt = Date.now();
  if (files) log.info({ dir, files: files.size }, 'dashboard served at /');
  else log.warn({ dir }, 'dashboard not built: / answers 503 until it is (npm run build -w @vmo/dashboard)');

  const app = new Hono();
  // What the page needs to know before its first API call; not under /v1 (it needs no credential).
  app.get('/dashboard.json', (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json({ signedInByProxy: signedInByProxy(c) });
  });
  app.on(['GET', 'HEAD'], '*', (c, next) => {
    const path = c.req.path;
    if (API_PATHS.test(path)) return next();
    // Built after this process started (npm run build): picked up within a second, not per request.
    if (!files && Date.now() - checkedAt > 1000) {
      checkedAt = Date.now();
      files = readDashboard(dir);
      if (files) log.info({ dir, files: files.size }, 'dashboard served at /');
    }
    const file = files?.get(path);
    if (file) return send(c, file, path.startsWith('/assets/'));
    // A path with an extension names a file: a missing one is a 404, not the app's page.
    if (/\.[a-z0-9]+$/i.test(path)) return next();
    if (!files) {
      return c.json(errorBody(new AppError(503, 'dashboard_not_built', 'the dashboard is not built on this node: run `npm run build -w @vmo/dashboard` (npm start builds it)')), 503);
    }
    return send(c, files.get('/index.html')!, false);
  });
  return app;
}

function send(c: Context, file: StaticFile, immutable: boolean): Response {
  c.header('Content-Security-Policy', DASHBOARD_CSP);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('X-Frame-Options', 'DENY');
  c.header('Referrer-Policy', 'no-referrer');
  // Hashed asset names never change content; index.html is checked on every load (a new build shows at once).
  c.header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  c.header('ETag', file.etag);
  if (c.req.header('If-None-Match') === file.etag) return c.body(null, 304);
  c.header('Content-Type', file.type);
  c.header('Content-Length', String(file.body.byteLength));
  if (c.req.method === 'HEAD') return c.body(null, 200);
  return c.body(file.body as Uint8Array<ArrayBuffer>, 200);
}
