/**
 * POST /v1/jobs when Postgres refuses one row of a group-committed batch (jobs/insert-job-grouped.ts:
 * the batch falls back to one INSERT per job). What a submitter relies on: the others of its batch
 * are answered 201 once each with their own job, stored once, queued; the refused one is answered
 * a JSON error and leaves no row. In-process (app.request) on its own database and Redis prefix.
 *
 * Validation refuses everything Postgres would refuse that we know of, so the refusal here comes
 * from a test-only trigger standing for a constraint validation does not know (one a newer
 * migration added during a rolling deploy): it refuses the command 'refuse me' with SQLSTATE
 * 23514. The same trigger counts on a sequence every row Postgres was asked to insert (nextval
 * survives the rollback): that is how the test knows the refused row was inside a multi-row
 * statement with the others, not alone from the start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

describe('a group-committed batch Postgres refuses for one row', () => {
  let fixture: InProcessApp;

  beforeAll(async () => {
    fixture = await startInProcessApp('submit_group_fallback');
    await fixture.cp.database.sql.unsafe(`
      create sequence rows_seen;
      create function refuse_some_jobs() returns trigger language plpgsql as $$
      begin
        perform nextval('rows_seen');
        if new.command = 'refuse me' then raise exception 'refused by the test' using errcode = 'check_violation'; end if;
        return new;
      end $$;
      create trigger refuse_some_jobs before insert on jobs for each row execute function refuse_some_jobs();
    `);
  });
  afterAll(() => fixture?.close());

  const submit = async (body: unknown) => {
    const res = await fixture.app.request('/v1/jobs', {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text), text };
  };

  it('the others: 201 once each, stored and queued once; the refused one: a JSON error and no row', async () => {
    const sql = fixture.cp.database.sql;
    const commands = Array.from({ length: 30 }, (_, i) => (i === 11 ? 'refuse me' : `echo fallback ${i}`));
    const answers = await Promise.all(commands.map((command) => submit({ command })));

    const good = commands.filter((c) => c !== 'refuse me');
    answers.forEach((a, i) => {
      if (i === 11) {
        // Postgres refused content our validation passed: our bug, not the submitter's, hence
        // 500 `internal` (http/on-error.ts), with nothing of Postgres' message in the answer.
        expect(a.status, a.text).toBe(500);
        expect(a.body).toEqual({ error: { code: 'internal', message: 'internal error; see the server log' } });
      } else {
        expect(a.status, a.text).toBe(201);
        expect(a.body).toMatchObject({ command: commands[i], status: 'queued' });
      }
    });
    const ids = answers.filter((a) => a.status === 201).map((a) => a.body.id as string);
    expect(new Set(ids).size).toBe(good.length);

    const rows = await sql<{ id: string; command: string }[]>`select id, command from jobs order by command`;
    expect(rows.map((r) => r.command).sort()).toEqual([...good].sort()); // each once, the refused one not at all
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
    const queued = await Promise.all(ids.map((id) => fixture.cp.queue.getJob(id)));
    expect(queued.map((q) => q?.data)).toEqual(ids.map((jobId) => ({ jobId })));

    // Every row Postgres was asked to store: each good one once (alone or in a batch that held),
    // the refused one alone once more, plus the rows of the refused multi-row statement (at
    // least the refused row itself, after the good ones ahead of it in its batch).
    const [seen] = await sql<{ n: string }[]>`select last_value as n from rows_seen`;
    expect(Number(seen!.n)).toBeGreaterThanOrEqual(good.length + 2);
  });
});
