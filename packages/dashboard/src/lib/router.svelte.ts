/**
 * The dashboard's URLs: every page has its own (`/jobs/{id}`, `/runs?status=running`), kept in the
 * History API so a reload, a shared link and the back button all land on the same page.
 *
 * Why not SvelteKit: its current major needs Node 22 (we run on 20), and eight client-side pages need
 * only this: a pattern table (App.svelte), `navigate()`, and plain `<a href>` links that stay links
 * (open in a new tab, copy the address) while a plain click is handled here without a reload.
 */

export interface Location {
  path: string;
  query: URLSearchParams;
  /** What the page put in this history entry (`navigate`'s `state`): kept by Back, Forward and a reload. */
  state: unknown;
}

function read(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search), state: window.history.state as unknown };
}

let current = $state<Location>(read());

/** The page's address as the app renders it (reactive). */
export const location = {
  get path(): string {
    return current.path;
  },
  get query(): URLSearchParams {
    return current.query;
  },
  get state(): unknown {
    return current.state;
  },
};

/** This page's path and query (`/jobs?status=failed`): where sign-in returns to. */
export function currentHref(): string {
  return current.path + (current.query.size > 0 ? `?${current.query}` : '');
}

/**
 * Go to `to` (a path with an optional query) without a reload; `replace` keeps the back button
 * where it was (filters). `state` is kept with the history entry (location.state), structured-cloneable.
 */
export function navigate(to: string, opts: { replace?: boolean; state?: unknown } = {}): void {
  const url = new URL(to, window.location.origin);
  // Never leaves the site: every caller means a page of the dashboard (sign-in's `next` included).
  if (url.origin !== window.location.origin) throw new Error(`navigate() only goes to this site's pages, not ${url.origin}`);
  const href = url.pathname + url.search + url.hash;
  if (opts.replace) window.history.replaceState(opts.state ?? null, '', href);
  else window.history.pushState(opts.state ?? null, '', href);
  current = read();
}

type QueryChanges = Record<string, string | readonly string[] | undefined>;

/** This page's address with `changes` applied to its query (a value of undefined or '' removes the key). */
export function hrefWithQuery(changes: QueryChanges): string {
  const query = new URLSearchParams(current.query);
  for (const [key, value] of Object.entries(changes)) {
    query.delete(key);
    if (typeof value === 'string' && value !== '') query.set(key, value);
    else if (Array.isArray(value)) for (const v of value) if (v !== '') query.append(key, v);
  }
  const search = query.toString();
  return current.path + (search === '' ? '' : `?${search}`);
}

/** The same page with `changes` applied to its query; replaces history (a filter is no place to go back to). */
export function setQuery(changes: QueryChanges): void {
  navigate(hrefWithQuery(changes), { replace: true });
}

/** `/jobs/:id` against `/jobs/job_1`: `{id: 'job_1'}`, or undefined when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean);
  const have = path.split('/').filter(Boolean);
  if (want.length !== have.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const h = have[i]!;
    if (w.startsWith(':')) {
      try {
        params[w.slice(1)] = decodeURIComponent(h);
      } catch {
        return undefined;
      }
    } else if (w !== h) return undefined;
  }
  return params;
}

/** Plain left clicks on same-origin links navigate here; anything else (new tab, download, another site) is the browser's. */
function onClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = (event.target as Element | null)?.closest?.('a');
  if (!a || a.target !== '' || a.hasAttribute('download') || a.getAttribute('rel') === 'external') return;
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

window.addEventListener('popstate', () => {
  current = read();
});
document.addEventListener('click', onClick);
