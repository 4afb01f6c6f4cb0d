/**
 * hosts/resolve-host.ts against the real Postgres: how a host reference (`host_…` id,
 * `name@environment`, bare name) resolves for a caller who may read every host and for one who
 * may read only some (issue 11: a hidden host is nobody, in every form of reference, and never
 * makes a bare name ambiguous nor wins over a readable host of the same name).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@vmo/testkit';
import { openDatabase, type Database } from '../src/db/index.ts';
import { newId } from '../src/domain/ids.ts';
import { AppError } from '../src/errors/app-error.ts';
import { resolveHost } from '../src/hosts/resolve-host.ts';
import type { HostRow } from '../src/hosts/host-view.ts';

let testDb: TestDatabase;
let database: Database;
const ids: Record<string, string> = {};
/** Team a's hosts only, as a non-admin's `readable` is. */
const teamA = (row: HostRow): boolean => row.labels['team'] === 'a';

beforeAll(async () => {
  testDb = await createTestDatabase('resolve_host');
  database = openDatabase(testDb.url, { max: 2 });
  for (const [key, name, environment, team] of [
    ['webDefault', 'web', 'default', 'b'],
    ['webStaging', 'web', 'staging', 'a'],
    ['apiX', 'api', 'x', 'a'],
    ['apiY', 'api', 'y', 'a'],
    ['apiZ', 'api', 'z', 'b'],
    ['dbP', 'db', 'p', 'b'],
    ['dbQ', 'db', 'q', 'b'],
  ] as const) {
    ids[key] = newId('host');
    await database.sql`insert into hosts (id, name, environment, host, "user", labels)
      values (${ids[key]!}, ${name}, ${environment}, '127.0.0.1', 'nobody', ${JSON.stringify({ team })}::jsonb)`;
  }
}, 60_000);

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

const idOf = async (ref: string, readable?: (row: HostRow) => boolean) => (await resolveHost(database.db, ref, readable))?.id;
const refusal = async (ref: string, readable?: (row: HostRow) => boolean): Promise<AppError> => {
  const err = await resolveHost(database.db, ref, readable).then(() => undefined, (e: unknown) => e);
  expect(err, `${ref}: expected a refusal`).toBeInstanceOf(AppError);
  return err as AppError;
};

describe('resolveHost', () => {
  it('for a caller who reads every host: id, name@environment, a bare name in `default` first, several elsewhere ambiguous', async () => {
    expect(await idOf(ids.webStaging!)).toBe(ids.webStaging);
    expect(await idOf('web@staging')).toBe(ids.webStaging);
    expect(await idOf('web')).toBe(ids.webDefault);
    const err = await refusal('api');
    expect([err.status, err.code]).toEqual([422, 'ambiguous_host']);
    expect(err.message).toContain('(x, y, z)');
    expect(await idOf('nothing')).toBeUndefined();
  });

  it('with `readable`: a hidden host is nobody by id, by name@environment and by bare name', async () => {
    expect(await idOf(ids.webDefault!, teamA)).toBeUndefined();
    expect(await idOf('web@default', teamA)).toBeUndefined();
    expect(await idOf('api@z', teamA)).toBeUndefined();
    expect(await idOf(ids.apiX!, teamA)).toBe(ids.apiX);
    expect(await idOf('api@x', teamA)).toBe(ids.apiX);
  });

  it('with `readable`: a bare name resolves among readable hosts; hidden ones neither win, nor make it ambiguous, nor are named', async () => {
    // web@default is hidden: the readable web@staging is the only candidate.
    expect(await idOf('web', teamA)).toBe(ids.webStaging);
    // Two hidden hosts of one name are nobody, not an ambiguity.
    expect(await idOf('db', teamA)).toBeUndefined();
    // Two readable ones are ambiguous, and the answer names only their environments.
    const err = await refusal('api', teamA);
    expect([err.status, err.code]).toEqual([422, 'ambiguous_host']);
    expect(err.message).toContain('(x, y)');
    expect(err.message).not.toMatch(/\bz\b/);
  });
});
