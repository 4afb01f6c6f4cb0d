import { z } from 'zod';
import { OPERATION_REASONS, OPERATION_STATUSES, OPERATION_TYPES } from '../domain/workspace.ts';
import { storableString } from '../errors/storable-text.ts';
import { ListOperationsFilter } from '../workspaces/workspace-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

const OperationFields = {
  id: z.string().meta({ example: 'wop_0123456789abcdefghij' }),
  workspaceId: z.string(),
  workspaceName: z.string(),
  type: z.enum(OPERATION_TYPES),
  status: z.enum(OPERATION_STATUSES).meta({ description: 'pending → running → succeeded | failed | canceling → canceled' }),
  reason: z.enum(OPERATION_REASONS).meta({ description: '`user`: a person asked; otherwise the lifecycle rule that did (autostop, idle, autostart, …)' }),
  actor: z.object({ id: z.string().nullable(), name: z.string() }).nullable().meta({ description: 'Who asked; null: the lifecycle loop' }),
  templateVersion: z.number().int().nullable().meta({ description: 'The template version it builds from (create, start, rebuild)' }),
  input: z.record(z.string(), z.unknown()),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: when('When it was asked for'),
  startedAt: when('When a worker started it').nullable(),
  endedAt: when('When it ended').nullable(),
  cancelRequestedAt: when('When a cancel was asked').nullable(),
};

export const Operation = z.object(OperationFields).meta({ id: 'Operation' });
export const OperationDetail = z
  .object({
    ...OperationFields,
    logs: z.array(z.object({ seq: z.number().int(), at: when('When it was written'), line: z.string() })).meta({ description: 'Its log, in order (the first 1000 lines)' }),
    logsTruncated: z.boolean().meta({ description: 'There are more lines than shown' }),
  })
  .meta({ id: 'OperationDetail' });
export const OperationPage = z
  .object({ items: z.array(Operation), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }) })
  .meta({ id: 'OperationPage' });

export const OperationIdParams = z.object({ id: storableString().meta({ description: 'The operation id (`wop_…`)', example: 'wop_0123456789abcdefghij' }) });

export const ListOperationsQuery = z
  .object({
    limit: intParam(1, 500, 50),
    cursor: z.string().regex(/^wop_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
    workspace: ListOperationsFilter.workspace.meta({ description: 'A workspace (id, or your own by name)' }),
    type: ListOperationsFilter.type,
    status: ListOperationsFilter.status,
  })
  .strict();

const ACCESS = "An operation is seen by its workspace's owner and the admins: to anyone else it is 404.";
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const listOperations = defineRoute({
  method: 'get',
  path: '/v1/operations',
  operationId: 'listOperations',
  tags: ['workspaces'],
  summary: 'List workspace operations, newest first',
  description: `Of your workspaces (admins: all). Filters: \`workspace\`, \`type\`, \`status\`. Keyset pagination. An unknown (or hidden) workspace is 404. ${ACCESS}`,
  request: { query: ListOperationsQuery },
  responses: { 200: { description: 'A page of operations', content: json(OperationPage) }, ...errorResponses(NOT_FOUND) },
});

export const getOperation = defineRoute({
  method: 'get',
  path: '/v1/operations/{id}',
  operationId: 'getOperation',
  tags: ['workspaces'],
  summary: 'An operation: status, error, timings and its log',
  description: ACCESS,
  request: { params: OperationIdParams },
  responses: { 200: { description: 'The operation', content: json(OperationDetail) }, ...errorResponses(NOT_FOUND) },
});

export const cancelOperation = defineRoute({
  method: 'post',
  path: '/v1/operations/{id}/cancel',
  operationId: 'cancelOperation',
  tags: ['workspaces'],
  summary: 'Cancel an operation',
  description: `A pending one ends \`canceled\` at once; a running one becomes \`canceling\` and its worker stops the provider, then ends it \`canceled\` (a canceled start can always be stopped and deleted); a canceling one is answered as it is; an ended one is 409 \`operation_ended\`. ${ACCESS}`,
  request: { params: OperationIdParams },
  responses: { 200: { description: 'The operation after the request', content: json(Operation) }, ...errorResponses({ ...NOT_FOUND, 409: ['operation_ended'] }) },
});

export const OperationLogsQuery = z
  .object({
    follow: z.enum(['true', 'false'], { error: 'must be true or false' }).optional().meta({ description: 'Keep the answer open: each new line as it is written, until the operation ends' }),
    after: z.coerce.number().int().min(0).optional().meta({ type: 'integer', minimum: 0, description: 'Only lines after this seq (resume)' }),
  })
  .strict();

export const OperationLogLine = z
  .object({ seq: z.number().int(), at: when('When it was written'), line: z.string() })
  .meta({ id: 'OperationLogLine', description: 'One NDJSON line; a followed answer ends with {"end": {"status": …}} once the operation has ended' });
export type OperationLogLine = z.infer<typeof OperationLogLine>;

export const operationLogs = defineRoute({
  method: 'get',
  path: '/v1/operations/{id}/logs',
  operationId: 'operationLogs',
  tags: ['workspaces'],
  summary: "An operation's log as NDJSON, followed live with follow=true",
  description: `One JSON object per line (\`{seq, at, line}\`). With \`follow=true\` the answer stays open and each new line comes as the worker writes it; it ends with \`{"end":{"status":…}}\` once the operation has ended. \`after\`: resume after that seq. ${ACCESS}`,
  request: { params: OperationIdParams, query: OperationLogsQuery },
  responses: { 200: { description: 'NDJSON lines', content: { 'application/x-ndjson': { schema: OperationLogLine } } }, ...errorResponses(NOT_FOUND) },
});
