import { z } from 'zod';
import { SNAPSHOT_STATUSES } from '../domain/workspace.ts';
import { storableString } from '../errors/storable-text.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, json } from './route.ts';
import { OperationRef, Workspace, WorkspaceRefParams } from './workspaces.ts';
import { WorkspaceName } from '../workspaces/workspace-input.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const Snapshot = z
  .object({
    id: z.string().meta({ example: 'snp_0123456789abcdefghij' }),
    workspaceId: z.string(),
    name: z.string(),
    status: z.enum(SNAPSHOT_STATUSES).meta({ description: '`pending` until its operation ends: `ready` (it can be restored) or `failed`' }),
    sizeBytes: z.number().int().nullable().meta({ description: 'Its size once ready' }),
    operationId: z.string().nullable().meta({ description: 'The `snapshot` operation that takes it (GET /v1/operations/{id})' }),
    createdBy: z.string().nullable(),
    createdAt: when('When it was asked for'),
  })
  .meta({ id: 'Snapshot' });

export const SnapshotCreated = z.object({ snapshot: Snapshot, operation: OperationRef }).meta({ id: 'SnapshotCreated' });
export const SnapshotList = z.object({ items: z.array(Snapshot).meta({ description: 'Newest first' }) }).meta({ id: 'SnapshotList' });

/** A name people type and see in lists: letters, digits and . _ - (no spaces, no slashes: providers may use it in a file name). */
const SnapshotName = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must start with a letter or digit and hold only letters, digits, ".", "_" and "-"');

export const CreateSnapshotInput = z.object({ name: SnapshotName }).strict();
export const RestoreSnapshotInput = z
  .object({
    into: z
      .union([z.literal('this'), z.object({ name: WorkspaceName }).strict()], { error: 'must be "this" or {"name": <a new workspace name>}' })
      .default('this')
      .meta({
        description:
          '`this` (the default): this workspace, which must be stopped. `{"name": …}`: a new workspace of yours with that name, from the same template (its current version), params, labels, TTL and idle timeout, built from the snapshot (its create operation restores it before it starts)',
      }),
  })
  .strict();

const RestoreAccepted = z
  .object({ operation: OperationRef, workspace: Workspace.optional().meta({ description: 'Into a new workspace: that workspace' }) })
  .meta({ id: 'RestoreAccepted' });

export const SnapshotParams = WorkspaceRefParams.extend({ sid: storableString().meta({ description: 'The snapshot id (`snp_…`)', example: 'snp_0123456789abcdefghij' }) });

const ACCESS = "A workspace's snapshots are its owner's and the admins': to anyone else every route is 404, as for a workspace that does not exist.";
const SUPPORT = 'Providers that can snapshot: `fake` and `netns` (an archive of the workspace directory); `command` and `docker` cannot (409 `snapshot_unsupported`).';
const NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const createSnapshot = defineRoute({
  method: 'post',
  path: '/v1/workspaces/{id}/snapshots',
  operationId: 'createSnapshot',
  tags: ['workspaces'],
  summary: 'Snapshot a stopped workspace',
  description: `202 with the snapshot (\`pending\`) and its \`snapshot\` operation; the snapshot is \`ready\` when the operation succeeds. The workspace must be stopped (409 \`invalid_transition\` while it runs; \`workspace_busy\` while an operation is active); nothing is left behind when refused. ${SUPPORT} ${ACCESS}`,
  request: { params: WorkspaceRefParams, body: { required: true, content: json(CreateSnapshotInput.meta({ id: 'SnapshotInput' })) } },
  responses: {
    202: { description: 'Accepted: the snapshot and its operation', content: json(SnapshotCreated) },
    ...errorResponses({ ...NOT_FOUND, 400: ['validation_failed', 'invalid_json'], 409: ['snapshot_exists', 'snapshot_unsupported', 'invalid_transition', 'workspace_busy'] }),
  },
});

export const listSnapshots = defineRoute({
  method: 'get',
  path: '/v1/workspaces/{id}/snapshots',
  operationId: 'listSnapshots',
  tags: ['workspaces'],
  summary: "A workspace's snapshots, newest first",
  description: ACCESS,
  request: { params: WorkspaceRefParams },
  responses: { 200: { description: 'Its snapshots', content: json(SnapshotList) }, ...errorResponses(NOT_FOUND) },
});

export const getSnapshot = defineRoute({
  method: 'get',
  path: '/v1/workspaces/{id}/snapshots/{sid}',
  operationId: 'getSnapshot',
  tags: ['workspaces'],
  summary: 'A snapshot',
  description: ACCESS,
  request: { params: SnapshotParams },
  responses: { 200: { description: 'The snapshot', content: json(Snapshot) }, ...errorResponses(NOT_FOUND) },
});

export const deleteSnapshot = defineRoute({
  method: 'delete',
  path: '/v1/workspaces/{id}/snapshots/{sid}',
  operationId: 'deleteSnapshot',
  tags: ['workspaces'],
  summary: 'Delete a snapshot',
  description: `It is hidden at once (its name free again) and its data (the provider's archive) is deleted by a worker of the host holding it, then its record; refused (409 \`workspace_busy\`) while an operation taking or restoring it is active. ${ACCESS}`,
  request: { params: SnapshotParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses({ ...NOT_FOUND, 409: ['workspace_busy'] }) },
});

export const restoreSnapshot = defineRoute({
  method: 'post',
  path: '/v1/workspaces/{id}/snapshots/{sid}/restore',
  operationId: 'restoreSnapshot',
  tags: ['workspaces'],
  summary: 'Restore a snapshot into its workspace or a new one',
  description: `202 with a \`restore\` operation. The workspace must be stopped (409 \`invalid_transition\` while it runs, \`workspace_busy\` while an operation is active) and the snapshot \`ready\` (409 \`invalid_transition\` otherwise); start the workspace when the operation has succeeded. ${SUPPORT} ${ACCESS}`,
  request: { params: SnapshotParams, body: { required: false, content: json(RestoreSnapshotInput.meta({ id: 'RestoreInput' })) } },
  responses: {
    202: { description: 'Accepted: the restore operation, or (into a new workspace) the new workspace and its create operation', content: json(RestoreAccepted) },
    ...errorResponses({ ...NOT_FOUND, 400: ['validation_failed', 'invalid_json', 'invalid_param'], 409: ['snapshot_unsupported', 'invalid_transition', 'workspace_busy', 'workspace_exists'] }),
  },
});
