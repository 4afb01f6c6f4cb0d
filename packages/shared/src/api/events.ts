import { z } from 'zod';
import { CHANGE_TOPICS } from '../bus/messages/changes.ts';
import { errorResponses } from './errors.ts';
import { defineRoute } from './route.ts';

// For clients, which take their words from the contracts only.
export { CHANGE_TOPICS, type ChangeTopic } from '../bus/messages/changes.ts';

/**
 * GET /v1/events, a WebSocket endpoint beside the job and run streams (streams.ts): "something
 * changed", for pages that stay live without a reload. It names kinds of things, never which ones
 * or what: the page reads them again through REST, where access rules apply.
 */

/** Server → subscriber, one JSON text frame each. */
export const EventsMessage = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('hello') }).meta({ description: 'The first frame of every connection: the feed is live. After a reconnect, read again everything shown (changes in between were not sent).' }),
    z.object({
      type: z.literal('changed'),
      topics: z
        .array(z.enum(CHANGE_TOPICS))
        .min(1)
        .meta({ description: 'What changed since the last frame: `jobs`, `runs`, `agents`, `hosts` (only those the credential may read). A client skips a topic it does not know.' }),
    }),
  ])
  .meta({ id: 'EventsMessage', description: 'A frame of GET /v1/events: `hello` first, then `changed` (at most about four a second).' });
export type EventsMessage = z.infer<typeof EventsMessage>;

export const streamEvents = defineRoute({
  method: 'get',
  path: '/v1/events',
  operationId: 'streamEvents',
  tags: ['events'],
  summary: 'What changed, for live pages (WebSocket)',
  description: [
    'A WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`); a plain GET is answered 404.',
    '',
    '**Authentication**: as the job stream: a user token in `Authorization: Bearer <token>` or, from a browser, the subprotocols `vmo.v1` and `bearer.<token>` offered together (the server selects `vmo.v1`). Any role may open it; a scoped token needs one of `jobs:read`, `agents:read`, `hosts:read`, and hears only of what those read (`jobs` and `runs`: `jobs:read`).',
    '',
    '**Frames**: see the `EventsMessage` schema. `{"type":"hello"}` at once, then `{"type":"changed","topics":[…]}` whenever something of those kinds changed (created, changed state, removed; an agent connected or disconnected), coalesced: at most about four frames a second. No ids, no data: read again through REST. The subscriber may send `{"type":"ping"}` and nothing else; the server pings every 30 s (a WebSocket ping) and drops a socket that did not answer the last one.',
    '',
    '**Close codes**: `1008` a frame other than `{"type":"ping"}`; `1009` a frame over 4 KiB; `1012` the API node is restarting (reconnect); `4008` the subscriber stopped reading (reconnect); `4401` the credential is no longer valid (revoked, expired, its user disabled): do not reconnect with it (a reconnect is 401).',
    '',
    '**Reconnecting**: after any close but 4401 (and 1008), reconnect with a backoff; on its `hello`, read again everything shown, as changes while disconnected were not sent. A 503 on the upgrade means a store is down: try again shortly.',
  ].join('\n'),
  responses: {
    101: { description: 'Switching Protocols: the feed is open (subprotocol `vmo.v1` when it was offered); its first frame is `hello`' },
    ...errorResponses({ 400: ['protocol_required'], 401: ['unauthorized'], 403: ['forbidden'], 429: ['too_many_connections', 'rate_limited'], 503: ['unavailable'] }),
  },
});
