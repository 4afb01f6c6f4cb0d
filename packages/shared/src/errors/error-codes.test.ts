import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError, badRequest, conflict } from './app-error.ts';
import { HTTP_ERRORS, httpErrorCodesFor, JOB_ERRORS } from './error-codes.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => !p.includes('node_modules') && !p.includes('/test/'));
}

/**
 * The codes the sources write into a job's `error`: `{ code: '…', message … }` object literals
 * (the lifecycle's `end` changes, executors' results, the agent's spawn error), `new SshError('…'`,
 * the host-key verdicts and the SshErrorCode union. Files that build HTTP error bodies
 * (packages/shared/src/errors, the API's http/ and routes/) are left out: AppError's types check those.
 */
function jobErrorCodesInSources(): Map<string, string> {
  const found = new Map<string, string>();
  const files = ['packages/shared/src', 'packages/ssh/src', 'services/worker/src', 'services/agent/src', 'services/api/src'].flatMap(sources);
  for (const file of files) {
    const rel = relative(ROOT, file);
    if (/packages\/shared\/src\/errors\/|services\/api\/src\/(http|routes)\//.test(rel)) continue;
    const text = readFileSync(file, 'utf8');
    const patterns = [/\{\s*code:\s*'([a-z_]+)',\s*message/g, /new SshError\(\s*'([a-z_]+)'/g, /\brefuse\(\s*'([a-z_]+)'/g];
    // `{ code: 'custom', message }` is a zod issue (ctx.addIssue), not a job error.
    for (const re of patterns) for (const m of text.matchAll(re)) if (m[1] !== 'custom') found.set(m[1]!, rel);
    const union = /type SshErrorCode =([^;]+);/.exec(text)?.[1];
    for (const m of union?.matchAll(/'([a-z_]+)'/g) ?? []) found.set(m[1]!, rel);
  }
  return found;
}

describe('the job error registry', () => {
  it('lists every code the sources write into a job error', () => {
    const found = jobErrorCodesInSources();
    // The scan must see the well-known ones, or it is not looking in the right places.
    for (const code of ['agent_offline', 'agent_lost', 'agent_revoked', 'worker_lost', 'spawn_failed', 'ssh_connect_failed', 'host_key_mismatch']) expect(found.has(code), code).toBe(true);
    const unregistered = [...found].filter(([code]) => !(code in JOB_ERRORS)).map(([code, file]) => `${code} (${file})`);
    expect(unregistered).toEqual([]);
  });

  it('has no code the sources never write (a stale entry misleads clients)', () => {
    const found = jobErrorCodesInSources();
    expect(Object.keys(JOB_ERRORS).filter((code) => !found.has(code))).toEqual([]);
  });
});

describe('the HTTP error registry', () => {
  it('gives each code one status and lists the codes of a status', () => {
    expect(HTTP_ERRORS.validation_failed.status).toBe(400);
    // Among others (each resource adds its own): only 409s, and these among them.
    expect(httpErrorCodesFor(409)).toEqual(expect.arrayContaining(['host_exists', 'job_ended', 'name_taken', 'policy_exists', 'run_ended', 'schedule_exists', 'user_exists', 'command_exists']));
    expect(httpErrorCodesFor(409).every((code) => HTTP_ERRORS[code].status === 409)).toBe(true);
    expect(httpErrorCodesFor(404)).toEqual(['not_found']);
    // POST /v1/runs' refusals (runs/submit-run.ts) are all 422, with what a single job's are.
    expect(httpErrorCodesFor(422)).toEqual(expect.arrayContaining(['no_targets', 'too_many_targets', 'invalid_strategy', 'unknown_agent', 'unknown_host', 'ambiguous_host', 'idempotency_key_reused']));
  });

  it('lets AppError take only a registered code, with its own status (checked by tsc)', () => {
    // The @ts-expect-error lines fail the typecheck if the types stop refusing them.
    // @ts-expect-error not a registered code
    const unregistered = () => new AppError(400, 'no_such_code', 'm');
    // @ts-expect-error not_found is a 404
    const wrongStatus = () => new AppError(409, 'not_found', 'm');
    // @ts-expect-error badRequest takes 400 codes only
    const wrongHelper = () => badRequest('job_ended', 'm');
    // @ts-expect-error conflict takes 409 codes only
    const wrongConflict = () => conflict('invalid_json', 'm');
    expect([unregistered, wrongStatus, wrongHelper, wrongConflict].every((f) => f() instanceof AppError)).toBe(true);
    expect(new AppError(409, 'name_taken', 'm').status).toBe(409);
  });
});
