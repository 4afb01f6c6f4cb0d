import { z } from 'zod';
import { JOB_STATUSES } from '../domain/job-status.ts';
import { RUN_STATUSES, TERMINAL_RUN_STATUSES } from '../domain/run-status.ts';
import type { RunStreamEvent } from '../runs/stream/run-stream-events.ts';
import { errorResponses } from './errors.ts';
import { defineRoute } from './route.ts';
import { RunIdParams } from './runs.ts';

/**
 * GET /v1/runs/{id}/stream, a WebSocket endpoint like the job stream (streams.ts): the same
 * upgrade, authentication and close codes; its frames are the run's progress, every child's
 * status changes and every child's output, each with a cursor to resume from.
 */

const cursor = z.string().meta({ description: 'Opaque. Reconnect with `?after=` this to get exactly the frames after this one' });
const ErrorView = z.object({ code: z.string(), message: z.string() });
const child = {
  jobId: z.string().meta({ description: "The child job's id" }),
  index: z.number().int().meta({ description: "The child's 0-based place in the run" }),
  target: z.string().meta({ description: "The child's target: an agent's name, a host's `name@environment`" }),
};

/**
 * The longest `?after=` read (runs/stream/cursor.ts MAX_CURSOR_CHARS, written out: the contracts
 * load in browsers and import no server code; a unit test keeps the two equal).
 */
export const MAX_RUN_STREAM_AFTER_CHARS = 16_384;

/** Unknown parameters are ignored, as on the job stream. */
export const RunStreamQuery = z.object({
  after: z
    .string()
    .max(MAX_RUN_STREAM_AFTER_CHARS, 'is not a cursor this server handed out (pass the `cursor` of the last message you received)')
    .optional()
    .meta({ description: 'Resume after the frame that carried this `cursor` (opaque); absent: from the start (a full replay)' }),
  output: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('true')
    .meta({ description: '`false`: progress and status changes only, no output frames' }),
});

/** Server → subscriber, one JSON text frame each. */
export const RunStreamMessage = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('output'),
      ...child,
      attempt: z.number().int().meta({ description: "The child's attempt that wrote it (retries, issue 14): a retried child's attempts come one after the other" }),
      seq: z.number().int().meta({ description: "Dense per attempt of a child, from 0 in each; each child's chunks come in (attempt, seq) order, exactly once" }),
      stream: z.enum(['stdout', 'stderr']),
      data: z.string().meta({ description: 'The bytes, base64' }),
      cursor,
    }),
    z.object({
      type: z.literal('status'),
      ...child,
      status: z.enum(JOB_STATUSES).meta({ description: "The child's status now" }),
      exitCode: z.number().int().nullable(),
      signal: z.string().nullable(),
      error: ErrorView.nullable(),
      cursor,
    }),
    z.object({
      type: z.literal('progress'),
      status: z.enum(RUN_STATUSES).meta({ description: "The run's status" }),
      counts: z.object(Object.fromEntries(JOB_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof JOB_STATUSES)[number], z.ZodNumber>).meta({ description: 'Children by status, every status present' }),
      done: z.number().int().meta({ description: 'Children in a final status' }),
      total: z.number().int(),
      error: ErrorView.nullable().meta({ description: 'Why the run stopped starting children (`max_errors_exceeded`, `canary_failed`)' }),
      cursor,
    }),
    z.object({ type: z.literal('end'), status: z.enum(TERMINAL_RUN_STATUSES), error: ErrorView.nullable(), cursor }),
  ])
  .meta({
    id: 'RunStreamMessage',
    description: 'A frame of GET /v1/runs/{id}/stream. Per window of changes: `output` frames (by child index, then attempt and seq), then `status` of each child that changed, then `progress`; last `end`.',
  });
export type RunStreamMessage = z.infer<typeof RunStreamMessage>;
// The schema and the reader's event type must not drift apart: this line stops compiling if they do.
const sameMessages: [RunStreamMessage, RunStreamEvent] extends [RunStreamEvent, RunStreamMessage] ? true : never = true;
void sameMessages;

export const streamRun = defineRoute({
  method: 'get',
  path: '/v1/runs/{id}/stream',
  operationId: 'streamRun',
  tags: ['runs'],
  summary: 'Follow a run: progress, status changes and all output (WebSocket)',
  description: [
    'A WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`); a plain GET is answered 404.',
    '',
    '**Authentication**: as the job stream: a user token in `Authorization: Bearer <token>` or, from a browser, the subprotocols `vmo.v1` and `bearer.<token>` offered together. Never in the URL.',
    '',
    '**Frames**: see the `RunStreamMessage` schema. What is stored is replayed first, then what happens live, in windows; each window sends `output` frames (every chunk of every child exactly once, tagged with the child\'s `jobId`, `index` and `target`; each child\'s chunks in seq order), then a `status` frame for each child whose status changed (its status now, exit code, error), then `progress` (the run\'s status, counts per child status, done/total). A child\'s final `status` always comes after all of its output. When the run is final and everything before it has been sent: `end` with its final status, then close `1000`. With `?output=false`, no `output` frames.',
    '',
    '**Cursor**: every frame carries `cursor`, an opaque string. Reconnecting with `?after=<cursor>` sends exactly the frames that followed that one: nothing twice, nothing missed, whenever the connection broke (during a replay or live). A cursor is for its run and its mode (`?output=`): another is `400`, as is one that was altered.',
    '',
    '**Close codes**: as the job stream:',
    '- `1000`: the run ended (after `end`).',
    '- `1008`: the subscriber sent a frame other than `{"type":"ping"}`.',
    '- `1009`: the subscriber sent a frame over 4 KiB.',
    '- `1012`: the API node is restarting, or the stream was interrupted: reconnect with `?after=<last cursor>`.',
    '- `4008`: the subscriber did not read for 30 s while more than VMO_SUBSCRIBER_BUFFER_BYTES waited in its socket: reconnect with `?after=<last cursor>`. (A slow reader is otherwise paced: the server reads Postgres only as fast as the subscriber reads.)',
    '- `4401`: the credential the stream was opened with is no longer valid (the token was revoked or expired, or its user disabled): do not reconnect with it (a reconnect is 401).',
    '- `4404`: the run does not exist, or the caller may no longer read it (the policy that let them was deleted, their role changed): the same words either way (a reconnect is 404).',
    '',
    '**Resuming**: after 1012 or 4008, and while the upgrade is answered 503 (a store is down), reconnect with `?after=` the last cursor received, with a backoff.',
  ].join('\n'),
  request: { params: RunIdParams, query: RunStreamQuery },
  responses: {
    101: { description: 'Switching Protocols: the stream is open (subprotocol `vmo.v1` when it was offered)' },
    ...errorResponses({ 400: ['validation_failed', 'protocol_required'], 401: ['unauthorized'], 403: ['forbidden'], 404: ['not_found'], 429: ['too_many_connections', 'rate_limited'], 503: ['unavailable'] }),
  },
});
