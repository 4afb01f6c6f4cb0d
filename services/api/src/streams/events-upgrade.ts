import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocketServer } from 'ws';
import { streamEvents } from '@vmo/shared/api';
import type { AuditWriter } from '@vmo/shared/audit';
import type { ChangeTopic } from '@vmo/shared/bus';
import { AppError } from '@vmo/shared/errors';
import type { Logger } from '@vmo/shared/logger';
import { authenticate } from '../auth/authenticate.ts';
import { allows } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import type { TokenStore } from '../auth/token-store.ts';
import { auditUpgradePrincipal } from '../http/audit-upgrade.ts';
import { STREAM_CREDENTIAL_REQUIRED, upgradeAuthRequest } from '../http/upgrade-auth.ts';
import type { EventsFeed } from './events-feed.ts';
import type { StreamAccess } from './stream-access.ts';

/** The path of the events feed, from its contract. */
export const EVENTS_PATH = streamEvents.path;

export interface EventsUpgradeDeps {
  tokens: TokenStore;
  log: Logger;
  /** A proxy user first seen on this upgrade is recorded here (users.create), as over REST. */
  audit: AuditWriter;
  /** The server's subscriber sockets (shared with the job and run streams: the same limits, the same 1012 on restart). */
  subscribers: WebSocketServer;
  /** Closes the feed when its credential stops authenticating (4401). */
  access: StreamAccess;
  feed: EventsFeed;
}

/** Which topics a principal hears of: those its scopes read (`runs` are read with `jobs:read`, as on REST). */
export function topicsReadableBy(principal: Principal): ChangeTopic[] {
  const topics: ChangeTopic[] = [];
  if (allows(principal, 'jobs:read')) topics.push('jobs', 'runs');
  if (allows(principal, 'agents:read')) topics.push('agents');
  if (allows(principal, 'hosts:read')) topics.push('hosts');
  return topics;
}

/**
 * Answer an upgrade to GET /v1/events as the job stream's is answered (server.ts): the Origin was
 * checked before, then the credential, exactly as for REST. Any role may open it (it names no job,
 * run, agent or host, so no policy applies); a token scoped to none of the read scopes is 403. An
 * expected refusal is thrown as an AppError for the server's catch to answer and audit.
 */
export async function upgradeEventsStream(req: IncomingMessage, socket: Socket, head: Buffer, accepted: () => void, deps: EventsUpgradeDeps): Promise<void> {
  // Taken before authenticating: an access change heard meanwhile is checked for at once (stream-access.ts).
  const generation = deps.access.generation;
  const auth = upgradeAuthRequest(req);
  const principal = await auditUpgradePrincipal(deps, req, await authenticate(deps.tokens, auth, STREAM_CREDENTIAL_REQUIRED));
  const topics = topicsReadableBy(principal);
  if (topics.length === 0) {
    throw new AppError(403, 'forbidden', "the events feed needs one of jobs:read, agents:read, hosts:read: this token's scopes have none", { scope: 'jobs:read', role: principal.role });
  }
  deps.subscribers.handleUpgrade(req, socket, head, (ws) => {
    accepted();
    deps.access.watch(ws, { auth, principal, resource: { kind: 'events', id: '' }, generation });
    deps.feed.serve(ws, topics);
  });
}
