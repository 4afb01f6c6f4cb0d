/**
 * A 404 that hides something the caller may not see (issue 11: no existence oracle) must answer
 * exactly like a real 404, yet be audited as a denial. The authorization code marks the error it
 * throws; the audit middleware reads the mark. It is a symbol, so it never reaches the JSON body.
 */
const DENIED_BY_POLICY = Symbol('vmo.deniedByPolicy');

/** Marks `err` (typically `notFound(…)`) as a policy's refusal; returns it for `throw`. */
export function deniedByPolicy<E extends Error>(err: E): E {
  (err as E & { [DENIED_BY_POLICY]?: true })[DENIED_BY_POLICY] = true;
  return err;
}

export function isDeniedByPolicy(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { [DENIED_BY_POLICY]?: true })[DENIED_BY_POLICY] === true;
}
