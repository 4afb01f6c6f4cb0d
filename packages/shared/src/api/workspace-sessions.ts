import { z } from 'zod';
import { WORKSPACE_SESSION_STATUSES } from '../domain/workspace.ts';
import { storableString } from '../errors/storable-text.ts';
import { CreateWorkspaceSessionInput } from '../workspaces/sessions-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

/**
 * Scheduled sessions of a workspace (issue 18; the seed's `schedule-session {startTime, duration}`
 * and `prepare-sessions`): the lifecycle loop starts the workspace `prepareLeadMs` before `startAt`
 * and stops it at `startAt + durationMs`, even with activity; in between no TTL, idle or dormancy
 * rule stops it.
 */

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const WorkspaceSession = z
  .object({
    id: z.string().meta({ example: 'wse_0123456789abcdefghij' }),
    workspaceId: z.string(),
    startAt: when('When it begins'),
    endAt: when('startAt + durationMs: the workspace is stopped then (reason `session_end`)'),
    prepareAt: when('startAt - prepareLeadMs: the workspace is started then (reason `session_start`)'),
    durationMs: z.number().int(),
    prepareLeadMs: z.number().int(),
    status: z.enum(WORKSPACE_SESSION_STATUSES).meta({
      description:
        '`scheduled` (before prepareAt), `preparing` (started, before startAt), `active` (between startAt and endAt), `ended` (stopped at endAt), `canceled` (DELETE), `failed` (its window passed and the workspace could not be started for it, e.g. no worker ran)',
    }),
    createdBy: z.string().nullable(),
    createdAt: when('When it was booked'),
    canceledAt: when('When it was canceled').nullable(),
    startOperationId: z.string().nullable().meta({ description: 'The start operation it asked for (null: none was needed, the workspace was up)' }),
    stopOperationId: z.string().nullable().meta({ description: 'The stop operation it asked for at its end' }),
  })
  .meta({ id: 'WorkspaceSession' });
export type WorkspaceSession = z.infer<typeof WorkspaceSession>;

export const WorkspaceSessionList = z.object({ items: z.array(WorkspaceSession).meta({ description: 'Soonest first' }) }).meta({ id: 'WorkspaceSessionList' });

const WorkspaceIdParams = z.object({ id: storableString().meta({ description: 'The workspace id (`wks_…`)', example: 'wks_0123456789abcdefghij' }) });
const SessionIdParams = WorkspaceIdParams.extend({ sid: storableString().meta({ description: 'The session id (`wse_…`)', example: 'wse_0123456789abcdefghij' }) });

export const ListWorkspaceSessionsQuery = z
  .object({
    limit: intParam(1, 500, 100),
    upcoming: z.enum(['true', 'false'], { error: 'must be true or false' }).optional().meta({ description: '`true`: only sessions not yet ended or canceled' }),
  })
  .strict();

const ACCESS = "A workspace's sessions are its owner's and the admins': to anyone else the workspace does not exist (404).";
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const createWorkspaceSession = defineRoute({
  method: 'post',
  path: '/v1/workspaces/{id}/sessions',
  operationId: 'createWorkspaceSession',
  tags: ['workspaces'],
  summary: 'Book a session: the workspace is up for it and stopped after it',
  description: `The lifecycle loop starts the workspace \`prepareLeadMs\` before \`startAt\` (reason \`session_start\`), so that it is healthy by then, keeps every automatic stop (TTL, idle, dormancy) off it until the end, and stops it at \`startAt + durationMs\` even if it is in use (reason \`session_end\`). \`startAt\` must be in the future; \`durationMs\` from 1 ms to 7 days; sessions of one workspace may not overlap (each from its prepare time to its end): 409 \`session_overlap\`. ${ACCESS}`,
  request: { params: WorkspaceIdParams, body: { required: true, content: json(CreateWorkspaceSessionInput.meta({ id: 'WorkspaceSessionInput' })) } },
  responses: {
    201: { description: 'Booked', headers: z.object({ Location: z.string().meta({ description: '`/v1/workspaces/{id}/sessions/{sid}`' }) }), content: json(WorkspaceSession) },
    ...errorResponses({ ...NOT_FOUND, 400: ['validation_failed', 'invalid_json'], 409: ['session_overlap'] }),
  },
});

export const listWorkspaceSessions = defineRoute({
  method: 'get',
  path: '/v1/workspaces/{id}/sessions',
  operationId: 'listWorkspaceSessions',
  tags: ['workspaces'],
  summary: "A workspace's scheduled sessions, soonest first",
  description: `Every session, past ones included (\`upcoming=true\`: those not yet ended or canceled). ${ACCESS}`,
  request: { params: WorkspaceIdParams, query: ListWorkspaceSessionsQuery },
  responses: { 200: { description: 'The sessions', content: json(WorkspaceSessionList) }, ...errorResponses(NOT_FOUND) },
});

export const cancelWorkspaceSession = defineRoute({
  method: 'delete',
  path: '/v1/workspaces/{id}/sessions/{sid}',
  operationId: 'cancelWorkspaceSession',
  tags: ['workspaces'],
  summary: 'Cancel a scheduled session',
  description: `It will neither start nor stop the workspace any more, and no longer holds automatic stops off it; a workspace it already started keeps running (stop it yourself, or let its TTL or idle timeout do it). Canceling a canceled session is a no-op (204); one that has ended is 409 \`invalid_transition\`. ${ACCESS}`,
  request: { params: SessionIdParams },
  responses: { 204: { description: 'Canceled' }, ...errorResponses({ ...NOT_FOUND, 409: ['invalid_transition'] }) },
});
