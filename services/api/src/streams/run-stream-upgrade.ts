import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocketServer } from 'ws';
import { loadGrants, runAccess } from '@vmo/shared/access';
import { RunStreamQuery, streamRun } from '@vmo/shared/api';
import type { AuditWriter } from '@vmo/shared/audit';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { notFound, validationError } from '@vmo/shared/errors';
import { isId } from '@vmo/shared/ids';
import type { Logger } from '@vmo/shared/logger';
import { checkCursorFitsRun, decodeRunCursor, runStreamRunTotal, startCursor, type RunStreamCursor } from '@vmo/shared/runs';
import { authenticate } from '../auth/authenticate.ts';
import { allows, scopeDenied } from '../auth/permissions.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { checkedPathValue } from '../http/path-param.ts';
import { auditUpgradePrincipal } from '../http/audit-upgrade.ts';
import { rejectUpgrade } from '../http/reject-upgrade.ts';
import { STREAM_CREDENTIAL_REQUIRED, upgradeAuthRequest } from '../http/upgrade-auth.ts';
import { serveRunStream } from './run-stream.ts';
import type { StreamAccess } from './stream-access.ts';

/** `/v1/runs/{id}/stream` → `^/v1/runs/([^/]+)/stream$`, from the contract. */
export const RUN_STREAM_PATH = new RegExp(`^${streamRun.path.replace(/\{[^}]+\}/g, '([^/]+)')}$`);

export interface RunStreamUpgradeDeps {
  cp: ControlPlane;
  tokens: TokenStore;
  log: Logger;
  /** The server's subscriber sockets (shared with the job streams: the same limits, the same 1012 on restart). */
  subscribers: WebSocketServer;
  maxBufferedBytes: number;
  /** A proxy user first seen on this upgrade is recorded here (users.create), as over REST. */
  audit: AuditWriter;
  /** Closes the stream when its subscriber's access ends (4401, 4404). */
  access: StreamAccess;
}

/**
 * Answer an upgrade to a run stream as the job stream's is answered (server.ts): a token, then
 * the request (a bad `?after=` cursor or `?output=` is 400 naming it), then the run (404, also
 * for a run the policies hide from the caller), then
 * the cursor against the run (a child it does not have: 400 naming `after`). An
 * expected refusal is thrown as an AppError for the server's catch to answer.
 */
export async function upgradeRunStream(req: IncomingMessage, socket: Socket, head: Buffer, url: URL, accepted: () => void, deps: RunStreamUpgradeDeps): Promise<void> {
  const match = RUN_STREAM_PATH.exec(url.pathname)!;
  // A token or the trusted proxy's user header, as for REST (auth/authenticate.ts).
  // Noted for the audit row of a refusal after this point (a scope, a policy's 404).
  const generation = deps.access.generation;
  const auth = upgradeAuthRequest(req);
  const principal = await auditUpgradePrincipal(deps, req, await authenticate(deps.tokens, auth, STREAM_CREDENTIAL_REQUIRED));
  if (!allows(principal, 'jobs:read')) throw scopeDenied(principal, 'jobs:read');
  const { runId, output, after } = parseRunStreamRequest(match[1]!, url);
  if (!isId('run', runId)) return rejectUpgrade(socket, notFound('run', runId));
  // A run the caller may not see (issue 11: its owner, or read on every target) is the same 404
  // as no run, marked for the audit; one query for the grants, one for the run (none for an admin).
  await runAccess(deps.cp.database.sql, await loadGrants(deps.cp.database.sql, principal), runId);
  const decoded: RunStreamCursor = after === undefined ? startCursor(runId, output) : decodeRunCursor(after, { runId, output });
  const total = await runStreamRunTotal(deps.cp.database.sql, runId);
  if (total === undefined) return rejectUpgrade(socket, notFound('run', runId));
  // LOUD: before anything is read for it; the reader trusts the sizes a cursor names.
  const cursor = checkCursorFitsRun(decoded, total);
  deps.subscribers.handleUpgrade(req, socket, head, (ws) => {
    accepted();
    deps.access.watch(ws, { auth, principal, resource: { kind: 'run', id: runId }, generation });
    void serveRunStream(ws, cursor, { cp: deps.cp, log: deps.log, maxBufferedBytes: deps.maxBufferedBytes });
  });
}

/** The run id, `?after=` and `?output=` of an upgrade, validated by the route's contract. Unknown parameters are ignored; a repeated one counts once (the first). */
export function parseRunStreamRequest(encodedId: string, url: URL): { runId: string; output: boolean; after: string | undefined } {
  const runId = checkedPathValue(decodePathSegment(encodedId), 'id');
  const params = streamRun.request.params.safeParse({ id: runId });
  if (!params.success) throw validationError(params.error, 'path');
  const query = RunStreamQuery.safeParse({ after: url.searchParams.get('after') ?? undefined, output: url.searchParams.get('output') ?? undefined });
  if (!query.success) throw validationError(query.error, 'query');
  return { runId: params.data.id, output: query.data.output === 'true', after: query.data.after };
}

/** A malformed escape (`%E0%A4%A`) is a client's mistake, not a server error: keep it raw (then 404). */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
