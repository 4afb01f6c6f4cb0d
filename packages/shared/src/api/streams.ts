import { z } from 'zod';
import { JOB_STATUSES } from '../domain/job-status.ts';
import { SubscriberCloseCode, type SubscriberMessage } from '../protocol/subscriber-messages.ts';
import { errorResponses } from './errors.ts';
import { attemptParam, JobIdParams } from './jobs.ts';
import { defineRoute, intParam } from './route.ts';

/**
 * The two WebSocket endpoints. The HTTP server answers their upgrades outside the REST app
 * (services/api/src/server.ts); they are routes here so the document lists them and the client
 * builds their URLs from the same place.
 */

/** The subprotocol a job stream selects; a browser offers it together with `bearer.<token>`. */
export const STREAM_SUBPROTOCOL = 'vmo.v1';
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

const AFTER = 'must be a whole number ≥ -1 (the last seq you have)';
/** Unknown parameters are ignored here (unlike REST queries), as they always were. */
export const StreamQuery = z.object({
  attempt: attemptParam(
    'Start at this attempt of a retried job (1 for the first; absent: the latest), then follow the job through its later attempts to its end: an `attempt` frame marks where the next attempt\'s output begins. With `after`, resume where you were: the attempt and the last seq you have of it',
  ),
  after: intParam(-1, 2 ** 31 - 1, -1, AFTER).meta({ description: 'Send only chunks with a higher seq (of the attempt the stream starts at): the last seq you have, to resume' }),
});

/** Server → subscriber, one JSON text frame each. */
export const StreamMessage = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('status'),
      status: z.enum(JOB_STATUSES),
      attempt: z.number().int().optional().meta({ description: 'On the first frame: the attempt whose output the stream starts with (a retried job has several)' }),
      outputExpired: z.literal(true).optional().meta({ description: 'On the first frame, when retention has deleted the output (VMO_OUTPUT_RETENTION_DAYS): no output follows, only `end`' }),
    }),
    z.object({
      type: z.literal('output'),
      seq: z.number().int(),
      stream: z.enum(['stdout', 'stderr']),
      data: z.string().meta({ description: 'The bytes, base64' }),
    }),
    z.object({
      type: z.literal('attempt'),
      attempt: z.number().int().meta({ description: 'The attempt whose output follows (its seqs start at 0 again)' }),
      retryAt: z.string().nullable().meta({ description: 'When it is due, while the job waits for it; null once it has started' }),
    }),
    z.object({ type: z.literal('end'), status: z.enum(JOB_STATUSES), exitCode: z.number().int().nullable(), signal: z.string().nullable() }),
  ])
  .meta({
    id: 'StreamMessage',
    description:
      'A frame of GET /v1/jobs/{id}/stream: `status` first, then `output` (every chunk once, in seq order), last `end`. A retried job (issue 14): `attempt` before each later attempt\'s output, whose seqs start at 0 again; `end` once the job has ended for good.',
  });
export type StreamMessage = z.infer<typeof StreamMessage>;
// The schema and the server's message type must not drift apart: this line stops compiling if they do.
const sameMessages: [StreamMessage, SubscriberMessage] extends [SubscriberMessage, StreamMessage] ? true : never = true;
void sameMessages;

/** Close codes after which a subscriber reconnects with `?after=<last seq>` (the README says so). */
export const RESUMABLE_CLOSE_CODES: readonly number[] = [SubscriberCloseCode.restart, SubscriberCloseCode.tooSlow];

export const streamJob = defineRoute({
  method: 'get',
  path: '/v1/jobs/{id}/stream',
  operationId: 'streamJob',
  tags: ['jobs'],
  summary: "Follow a job's output (WebSocket)",
  description: [
    'A WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`); a plain GET is answered 404.',
    '',
    '**Authentication**: a user token, in `Authorization: Bearer <token>` or, from a browser (which cannot set headers on a WebSocket), as the subprotocols `vmo.v1` and `bearer.<token>` offered together (`new WebSocket(url, ["vmo.v1", "bearer." + token])`). The server selects `vmo.v1` and never echoes the token; `bearer.<token>` without `vmo.v1` is refused (400 `protocol_required`). Never in the URL.',
    '',
    '**Frames**: see the `StreamMessage` schema. `{"type":"status"}` first, then `{"type":"output","seq","stream","data"}` for every stored and live chunk exactly once and in seq order (data base64), last `{"type":"end","status","exitCode","signal"}`. The subscriber may send `{"type":"ping"}` and nothing else.',
    '',
    '**Close codes**:',
    '- `1000`: the job ended (after `end`).',
    '- `1008`: the subscriber sent a frame other than `{"type":"ping"}`.',
    '- `1009`: the subscriber sent a frame over 4 KiB.',
    '- `1012`: the API node is restarting, or the stream was interrupted: reconnect with `?after=<last seq>`.',
    `- \`4008\`: the subscriber read too slowly (more than VMO_SUBSCRIBER_BUFFER_BYTES unsent while live, or stuck over it for 30 s during a replay): reconnect with \`?after=<last seq>\`.`,
    '- `4401`: the credential the stream was opened with is no longer valid (the token was revoked or expired, or its user disabled): do not reconnect with it (a reconnect is 401).',
    '- `4404`: the job does not exist, or the caller may no longer read it (the policy that let them was deleted, their role changed): the same words either way (a reconnect is 404).',
    '',
    '**Resuming**: after 1012 or 4008, and while the upgrade is answered 503 (a store is down), reconnect with `?after=` the last seq received, with a backoff. Nothing is repeated or skipped.',
  ].join('\n'),
  request: { params: JobIdParams, query: StreamQuery },
  responses: {
    101: { description: 'Switching Protocols: the stream is open (subprotocol `vmo.v1` when it was offered)' },
    ...errorResponses({ 400: ['validation_failed', 'protocol_required'], 401: ['unauthorized'], 403: ['forbidden'], 404: ['not_found'], 429: ['too_many_connections', 'rate_limited'], 503: ['unavailable'] }),
  },
});

export const agentConnect = defineRoute({
  method: 'get',
  path: '/v1/agent/connect',
  operationId: 'agentConnect',
  tags: ['agents'],
  summary: 'The agent protocol (WebSocket)',
  description: [
    'Where `vmo-agent` connects: a WebSocket upgrade authenticated by `Authorization: Bearer <agent token>` only (not a subprotocol, not the URL). The frames are specified in packages/shared/src/protocol/PROTOCOL.md (version 1).',
    '',
    '**Close codes**: `1000` normal shutdown; `1008` a frame broke the protocol; `1009` a frame over 1 MiB; `1012` the API node is restarting (reconnect); `4401` the agent was revoked (do not reconnect with this token); `4409` a newer connection of the same agent took over; `4410` the agent\'s token was rotated (reconnect only with the new one). An enrolment token (`vmo_enr_…`) is refused here with 403: it is exchanged at `POST /v1/agent/enrol`.',
  ].join('\n'),
  security: [{ agentToken: [] }],
  responses: {
    101: { description: 'Switching Protocols: the agent is connected; its first frame is `hello`' },
    ...errorResponses({ 401: ['unauthorized'], 403: ['forbidden'], 429: ['too_many_connections', 'rate_limited'], 503: ['unavailable'] }),
  },
});
