import { z } from 'zod';
import { storableString } from '../errors/storable-text.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

/** Issue 17 (protocol/SHELL.md §S7): recorded shell sessions. */
export const ShellSessionView = z
  .object({
    id: z.string().meta({ example: 'shs_0123456789abcdefghij' }),
    target: z.object({ kind: z.string().meta({ example: 'agent' }), id: z.string(), name: z.string() }),
    user: z.object({ id: z.string().nullable().meta({ description: 'null: the bootstrap admin' }), name: z.string() }),
    command: z.string().nullable().meta({ description: '`?command=` it was opened with; null for the login shell' }),
    cols: z.number().int(),
    rows: z.number().int(),
    openedAt: z.string(),
    endedAt: z.string().nullable().meta({ description: 'null while the session lives (attached or within its grace)' }),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable().meta({ description: '`SIGHUP` for a session reaped after the grace' }),
    endReason: z
      .enum(['exited', 'lost', 'server_restarted', 'server_lost'])
      .nullable()
      .meta({
        description:
          'Why it ended: `exited` (its program ended: exitCode/signal), `lost` (its agent no longer held it), `server_restarted` (the API node holding an SSH host\'s shell stopped and hung it up), `server_lost` (that node died unannounced; another node ended it). null while open, or ended before reasons were recorded',
      }),
    recordedBytes: z.number().int().meta({ description: 'Output bytes stored (up to VMO_MAX_OUTPUT_BYTES): GET /v1/sessions/{id}/logs' }),
  })
  .meta({ id: 'ShellSession' });
export type ShellSession = z.infer<typeof ShellSessionView>;

const sessionId = z.string().regex(/^shs_[0-9a-z]{20}$/, 'must be a session id (shs_…)');

export const listSessions = defineRoute({
  method: 'get',
  path: '/v1/sessions',
  operationId: 'listSessions',
  tags: ['sessions'],
  summary: 'Shell sessions, newest first',
  description: 'Admins see every session; anyone else their own. Filters combine; keyset pagination with `nextCursor`.',
  request: {
    query: z
      .object({
        target: storableString().min(1).max(256).optional().meta({ description: "An agent's id or name" }),
        user: storableString().min(1).max(256).optional().meta({ description: "A user's id or name" }),
        cursor: sessionId.optional().meta({ description: '`nextCursor` of the previous page' }),
        limit: intParam(1, 500, 100),
      })
      .strict(),
  },
  responses: {
    200: { description: 'A page of sessions', content: json(z.object({ items: z.array(ShellSessionView), nextCursor: z.string().nullable() }).meta({ id: 'ShellSessionPage' })) },
    ...errorResponses(AUTHENTICATED),
  },
});

export const sessionLogs = defineRoute({
  method: 'get',
  path: '/v1/sessions/{id}/logs',
  operationId: 'sessionLogs',
  tags: ['sessions'],
  summary: "A shell session's recorded output (or input)",
  description:
    'The bytes the PTY wrote, in order, as clients received them (up to VMO_MAX_OUTPUT_BYTES). `stream=input`: what clients typed, in the order the terminal got it (up to the same cap), recorded only while the API runs with VMO_SHELL_RECORD_INPUT=true (otherwise empty).',
  request: {
    params: z.object({ id: sessionId }),
    query: z.object({ stream: z.enum(['output', 'input']).default('output').meta({ description: '`input`: the typed bytes (VMO_SHELL_RECORD_INPUT=true)' }) }).strict(),
  },
  responses: {
    200: { description: 'The output', content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } } },
    ...errorResponses({ ...AUTHENTICATED, 404: ['not_found'] }),
  },
});
