/**
 * A control plane on a fresh database and Redis prefix for the workspace engine's tests, and
 * workspaces on the `fake` provider made as createWorkspace would (template, version, agent,
 * workspace row, `create` operation through requestOperation).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAgent } from '@vmo/shared/agents';
import { commonSchema, tryParseEnv } from '@vmo/shared/config';
import { openControlPlane, type ControlPlane } from '@vmo/shared/control-plane';
import type { OperationStatus, OperationType } from '@vmo/shared/domain';
import { newId } from '@vmo/shared/ids';
import { createLogger } from '@vmo/shared/logger';
import { requestOperation } from '@vmo/shared/workspaces';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL, waitFor, type TestDatabase } from '@vmo/testkit';
import type { FakeConfig } from '../../src/workspaces/providers/fake.ts';

export interface EngineFixture {
  cp: ControlPlane & { close(): Promise<void> };
  db: TestDatabase;
  prefix: string;
  fakeDir: string;
  close(): Promise<void>;
}

export async function openEngineFixture(label: string): Promise<EngineFixture> {
  const db = await createTestDatabase(label);
  const prefix = createTestPrefix(label);
  const config = tryParseEnv(commonSchema, { VMO_DATABASE_URL: db.url, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: prefix.prefix });
  const cp = await openControlPlane(config, createLogger(label, 'silent'), { dbPoolSize: 6 });
  const fakeDir = mkdtempSync(join(tmpdir(), `vmo-${label}-`));
  return {
    cp,
    db,
    prefix: prefix.prefix,
    fakeDir,
    async close() {
      await cp.close();
      await db.drop();
      await prefix.cleanup();
      rmSync(fakeDir, { recursive: true, force: true });
    },
  };
}

export interface TestWorkspace {
  id: string;
  name: string;
  templateId: string;
  agentId: string;
  /** The create operation. */
  opId: string;
  config: Record<string, unknown>;
}

/** A template (one version, fake provider with `script`), its agent, a workspace and its pending `create` operation. */
export async function fakeWorkspace(f: EngineFixture, script: FakeConfig['script'] = {}, extra: { agentConnectTimeoutMs?: number; provider?: string } = {}): Promise<TestWorkspace> {
  const { cp } = f;
  const sql = cp.database.sql;
  const templateId = newId('tpl');
  const name = `ws${newId('wks').slice(4, 14).toLowerCase()}`;
  const config = { dir: f.fakeDir, script };
  await sql`insert into templates (id, name) values (${templateId}, ${`tpl-${name}`})`;
  await sql`insert into template_versions (template_id, version, provider, config, agent_connect_timeout_ms)
            values (${templateId}, 1, ${extra.provider ?? 'fake'}, ${JSON.stringify(config)}::jsonb, ${extra.agentConnectTimeoutMs ?? 120_000})`;
  const agent = await registerAgent(cp, { name: `ws-${name}`, labels: { workspace: name } });
  const id = newId('wks');
  await sql`insert into workspaces (id, name, owner_name, template_id, template_version, agent_id)
            values (${id}, ${name}, 'admin', ${templateId}, 1, ${agent.id})`;
  const op = await requestOperation(cp, { workspaceId: id, type: 'create', reason: 'user', actor: { userId: null, name: 'admin' } });
  return { id, name, templateId, agentId: agent.id, opId: op.id, config };
}

export async function requestOp(f: EngineFixture, workspaceId: string, type: OperationType, input?: Record<string, unknown>): Promise<string> {
  return (await requestOperation(f.cp, { workspaceId, type, reason: 'user', actor: { userId: null, name: 'admin' }, ...(input ? { input } : {}) })).id;
}

export interface OpRow {
  id: string;
  status: OperationStatus;
  error_code: string | null;
  error_message: string | null;
  claimed_by: string | null;
  started_at: Date | null;
  ended_at: Date | null;
}

export async function opRow(f: EngineFixture, opId: string): Promise<OpRow> {
  const [row] = await f.cp.database.sql<OpRow[]>`select id, status, error_code, error_message, claimed_by, started_at, ended_at from workspace_operations where id = ${opId}`;
  return row!;
}

/** Wait until the operation has one of `statuses`; its row then. */
export async function opReaches(f: EngineFixture, opId: string, statuses: OperationStatus[], timeoutMs = 30_000): Promise<OpRow> {
  return waitFor(`operation ${opId} to be ${statuses.join(' or ')}`, async () => {
    const row = await opRow(f, opId);
    return statuses.includes(row.status) ? row : undefined;
  }, timeoutMs);
}

/** As POST /v1/operations/{id}/cancel does for a running one (operation-service.ts). */
export async function requestCancel(f: EngineFixture, opId: string): Promise<void> {
  await f.cp.database.sql`update workspace_operations set status = 'canceling', cancel_requested_at = clock_timestamp() where id = ${opId} and status = 'running'`;
}
