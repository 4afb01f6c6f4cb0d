import postgres from 'postgres';
import type { RecordedRequest } from './request-ledger.ts';

type AuditResult = 'allowed' | 'denied' | 'failed';

/** What the audit trail must (or may) hold for one request: a row with its request id, its status and one of these results. */
export interface AuditExpectation {
  /** `required`: exactly one row. `optional`: none or one (the client cannot tell whether the server recorded it). */
  need: 'required' | 'optional';
  results: readonly AuditResult[];
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DENIED = new Set([401, 403, 429]);

/**
 * LOUD: the rule the suite holds the API to (issue 11 §Audit: "a row for every mutating and every
 * denied request"), for each request a test made through the testkit:
 *
 * - Only the audited API counts: paths under /v1/ (the audit middleware is mounted there). /health,
 *   /openapi.json and /docs are not part of it and are never checked.
 * - A request that got no answer (refused connection, reset, abort, the API killed mid-request) is
 *   never recorded by the testkit, so never checked: the server may never have seen it.
 * - A 429 `too_many_connections` is the server closing a connection that kept it waiting
 *   (slowloris, http/unauthenticated-connections.ts), written on the socket before any request on
 *   it was read: no request reached the API, so none is recorded. Not checked.
 * - A 503 `unavailable` (Postgres or Redis not answering) may have its row or not: when Postgres
 *   is the one down, the writer could not store the row and logged it instead (http/audit.ts).
 *   If it has one, it is one `failed` row with that status.
 * - Mutating (POST, PUT, PATCH, DELETE), any other answer: exactly one row with the answer's status;
 *   `allowed` below 400, `denied` for 401, 403 and 429, `denied` or `failed` for a 404 or 422 (a
 *   policy's 404, or the 422 `unknown_agent`/`unknown_host` for a target the caller may not read, is a
 *   denial, a real one a failure: the answer is the same on purpose), `failed` otherwise.
 * - Any other method, and WebSocket upgrades (reads): 401, 403 and 429 are denials, exactly one
 *   `denied` row each. A 404 may be a policy hiding something (a denial, with its row) or a real
 *   404 (no row); the answer does not say which, so it may have one `denied` row or none. Any
 *   other answer to a read is not recorded and not checked.
 */
export function auditExpectationOf(r: Pick<RecordedRequest, 'method' | 'path' | 'status' | 'kind' | 'errorCode'>): AuditExpectation | undefined {
  if (!r.path.startsWith('/v1/')) return undefined;
  if (r.status === 503 && r.errorCode === 'unavailable') return { need: 'optional', results: ['failed'] };
  // Answered on the connection before any request on it was read (http/unauthenticated-connections.ts).
  if (r.status === 429 && r.errorCode === 'too_many_connections') return undefined;
  if (r.kind === 'rest' && MUTATING.has(r.method)) {
    if (r.status < 400) return { need: 'required', results: ['allowed'] };
    if (DENIED.has(r.status)) return { need: 'required', results: ['denied'] };
    // A 404 or 422 may be a policy hiding something (a hidden job is 404; a hidden agent or host named as a target is the 422 of one that does not exist).
    if (r.status === 404 || r.status === 422) return { need: 'required', results: ['denied', 'failed'] };
    return { need: 'required', results: ['failed'] };
  }
  if (DENIED.has(r.status)) return { need: 'required', results: ['denied'] };
  if (r.status === 404) return { need: 'optional', results: ['denied'] };
  return undefined;
}

interface Row {
  request_id: string;
  result: string;
  status: number | null;
  action: string;
}

/**
 * The requests whose audit rows are missing or wrong, one line each, or [] when every one is as
 * `auditExpectationOf` says. Rows are written before the answer leaves (http/audit.ts), so they
 * are normally all there at once; a gap is read again until `timeoutMs` before it is reported, in
 * case a row is on its way after all (a writer retrying through a slow Postgres).
 */
export async function auditGaps(databaseUrl: string, requests: readonly RecordedRequest[], timeoutMs = 15_000): Promise<string[]> {
  const checked = requests.flatMap((r) => {
    const expect = auditExpectationOf(r);
    return expect ? [{ r, expect }] : [];
  });
  if (checked.length === 0) return [];
  const ids = [...new Set(checked.map((c) => c.r.requestId))];
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // A proxy user created on first sight is a row of its own with the request's id and no
      // status (users.create/update, via proxy), beside the request's row: not the request's.
      const rows = await sql<Row[]>`
        select request_id, result, status, action from audit_events
        where request_id = any(${ids}) and not (status is null and detail->>'via' = 'proxy')`;
      const gaps = compare(checked, rows);
      if (gaps.length === 0 || Date.now() > deadline) return gaps;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function compare(checked: { r: RecordedRequest; expect: AuditExpectation }[], rows: Row[]): string[] {
  const rowsById = new Map<string, Row[]>();
  for (const row of rows) rowsById.set(row.request_id, [...(rowsById.get(row.request_id) ?? []), row]);
  const byId = new Map<string, typeof checked>();
  for (const c of checked) byId.set(c.r.requestId, [...(byId.get(c.r.requestId) ?? []), c]);
  const gaps: string[] = [];
  // Usually one request per id; a test that sent the same X-Request-Id twice gets its rows shared out.
  for (const [id, group] of byId) {
    const left = [...(rowsById.get(id) ?? [])];
    const take = (c: (typeof checked)[number]) => {
      const i = left.findIndex((row) => row.status === c.r.status && c.expect.results.includes(row.result as AuditResult));
      return i >= 0 ? left.splice(i, 1)[0] : undefined;
    };
    const required = group.filter((c) => c.expect.need === 'required');
    const optional = group.filter((c) => c.expect.need === 'optional');
    const unmatched = required.filter((c) => take(c) === undefined);
    for (const c of optional) take(c);
    for (const c of unmatched) {
      const found = (rowsById.get(id) ?? []).map((row) => `${row.action} ${row.result} ${row.status ?? '-'}`).join(', ');
      gaps.push(`${describe(c.r)}: wants one ${c.expect.results.join(' or ')} row, found ${found ? `[${found}]` : 'none'} (${c.r.at})`);
    }
    if (unmatched.length === 0 && left.length > 0) {
      gaps.push(`${describe(group[0]!.r)}: ${left.length} row(s) more than its request(s): ${left.map((row) => `${row.action} ${row.result} ${row.status ?? '-'}`).join(', ')} (${group[0]!.r.at})`);
    }
  }
  return gaps;
}

const describe = (r: RecordedRequest) => `${r.kind === 'upgrade' ? 'upgrade ' : ''}${r.method} ${r.path} → ${r.status} [${r.requestId}]`;
