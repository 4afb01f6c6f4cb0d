/**
 * @vmo/client against a real system (API and worker processes, Postgres, Redis): every route,
 * typed answers checked against their contracts, errors as VmoApiError, follow() through an API
 * restart (close 1012, then the node unreachable until it is back on the same port), and
 * `npm run follow` built on it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingFetch, TestSystem, waitFor } from '@vmo/testkit';
import { submitJob } from '@vmo/shared/api';
import { VmoApiError, VmoClient, type OutputChunk, type Reconnect } from '../src/index.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('@vmo/client (real system)', () => {
  let system: TestSystem;
  let client: VmoClient;
  let scratch: string;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'client' });
    client = new VmoClient({ baseUrl: system.apiUrls[0]!, token: system.token, validateResponses: true, fetch: recordingFetch() });
    scratch = mkdtempSync(join(tmpdir(), 'vmo-client-'));
  });
  afterAll(async () => {
    await system?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('calls every route, typed, each answer fitting its contract', async () => {
    expect(await client.health()).toEqual({ status: 'ok' });
    expect(await client.ready()).toEqual({ status: 'ready', postgres: 'up', redis: 'up' });
    const doc = await new VmoClient({ baseUrl: system.apiUrls[0]! }).openapi(); // no token needed
    expect(Object.keys(doc.paths as object)).toContain('/v1/jobs/{id}/stream');

    const job = await client.jobs.submit({ command: "printf 'out\\n'; printf 'err\\n' >&2", labels: { via: 'client' } });
    expect(job).toMatchObject({ status: 'queued', labels: { via: 'client' }, target: { type: 'local' } });
    const end = await client.jobs.follow(job.id);
    expect(end).toEqual({ type: 'end', status: 'succeeded', exitCode: 0, signal: null });
    expect((await client.jobs.get(job.id)).status).toBe('succeeded');
    expect(Buffer.from(await client.jobs.logs(job.id, { stream: 'stdout' })).toString()).toBe('out\n');
    const chunks = await client.jobs.logChunks(job.id);
    expect(chunks.map((c) => [c.stream, Buffer.from(c.data, 'base64').toString()])).toEqual(expect.arrayContaining([['stdout', 'out\n'], ['stderr', 'err\n']]));
    expect((await client.jobs.list({ limit: 1 })).items[0]!.id).toBe(job.id);
    expect((await client.jobs.list({ status: ['succeeded', 'failed'], label: ['via=client'], labels: 'via in (client),!other' })).items.map((j) => j.id)).toEqual([job.id]);
    expect((await client.jobs.list({ label: 'via=client', status: 'failed' })).items).toEqual([]);

    // The same Idempotency-Key and body: the same job, marked as replayed (call() shows the headers).
    const first = await client.call(submitJob, { body: { command: 'true' }, headers: { 'Idempotency-Key': 'client-e2e-1' } });
    const again = await client.call(submitJob, { body: { command: 'true' }, headers: { 'Idempotency-Key': 'client-e2e-1' } });
    expect(again.body.id).toBe(first.body.id);
    expect([first.status, first.headers.get('idempotent-replayed'), again.headers.get('idempotent-replayed')]).toEqual([201, null, 'true']);
    expect(first.headers.get('location')).toBe(`/v1/jobs/${first.body.id}`);

    const waiting = await client.jobs.submit({ command: 'sleep 30' });
    await system.client.waitForStatus(waiting.id, 'running');
    expect((await client.jobs.cancel(waiting.id, { graceMs: 100 })).id).toBe(waiting.id);
    expect((await client.jobs.follow(waiting.id)).status).toBe('canceled');

    const agent = await client.agents.register({ name: 'client-vm', labels: { zone: 'a' } });
    expect(agent.token).toMatch(/^vmo_agt_/);
    expect((await client.agents.get('client-vm')).status).toBe('offline');
    expect((await client.agents.list()).items.map((a) => a.name)).toContain('client-vm');
    await client.agents.revoke(agent.id);

    const host = await client.hosts.create({ name: 'db-1', host: '10.0.0.5', user: 'deploy' });
    expect(host.ref).toBe('db-1@default');
    expect((await client.hosts.update('db-1', { port: 2222 })).port).toBe(2222);
    expect((await client.hosts.get(host.id)).port).toBe(2222);
    const imported = await client.hosts.import({ config: 'Host web-1 web-2\n  HostName 10.0.0.6\n  User deploy\n', environment: 'prod' });
    expect(imported.created.map((h) => h.ref)).toEqual(['web-1@prod', 'web-2@prod']);
    expect((await client.hosts.list({ environment: 'prod' })).items).toHaveLength(2);
    const preview = await client.targets.preview({ selector: '!zone', kinds: ['ssh'], limit: 2 });
    expect([preview.total, preview.items.map((t) => [t.kind, t.name, t.online])]).toEqual([3, [['ssh', 'db-1@default', null], ['ssh', 'web-1@prod', null]]]);
    expect(await client.targets.preview({ selector: 'zone=a' })).toEqual({ total: 0, items: [] }); // its agent is revoked
    await client.hosts.delete(host.id);
  });

  it('throws VmoApiError with the status, code, message and details of the error body', async () => {
    const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err);
    expect(await errorOf(client.jobs.get('job_0123456789abcdefghij'))).toMatchObject({ name: 'VmoApiError', status: 404, code: 'not_found', message: 'job "job_0123456789abcdefghij" does not exist' });
    const invalid = await errorOf(client.jobs.submit({ command: 'ls', timeoutMs: 0 }));
    expect(invalid).toBeInstanceOf(VmoApiError);
    expect(invalid).toMatchObject({ status: 400, code: 'validation_failed', details: { field: 'timeoutMs' } });
    expect((invalid as Error).message).toMatch(/^timeoutMs: /);
    expect(await errorOf(new VmoClient({ baseUrl: system.apiUrls[0]!, token: 'vmo_adm_notatokennotatoken', fetch: recordingFetch() }).jobs.list())).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(await errorOf(client.agents.register({ name: 'client-dup' }).then(() => client.agents.register({ name: 'client-dup' })))).toMatchObject({ status: 409, code: 'name_taken' });
    // The stream's upgrade is refused the same way.
    expect(await errorOf(client.follow('job_0123456789abcdefghij'))).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('follow() resumes through an API restart (1012, then unreachable until it is back): every chunk once, in order, then the end', async () => {
    const stop = join(scratch, 'restart.stop');
    // Writes until told to stop, so output flows before, during and after the restart.
    const job = await client.jobs.submit({ command: `i=0; while [ ! -e '${stop}' ]; do i=$((i+1)); echo "line $i"; sleep 0.02; done; echo last` });
    const chunks: OutputChunk[] = [];
    const reconnects: Reconnect[] = [];
    const followed = client.follow(job.id, { onOutput: (c) => chunks.push(c), onReconnect: (r) => reconnects.push(r), backoff: { initialMs: 100, maxMs: 1000 } });
    followed.catch(() => {}); // awaited below; a failure must not also surface as unhandled

    await waitFor('output before the restart', () => chunks.length >= 5 || undefined, 20_000, 20);
    const [api] = system.apis;
    const port = new URL(system.apiUrls[0]!).port;
    await api!.stop(); // closes every subscriber with 1012
    await system.startApi({ VMO_PORT: port });
    const resumedAfter = chunks.length;
    await waitFor('output after the restart', () => chunks.length >= resumedAfter + 5 || undefined, 30_000, 20);
    writeFileSync(stop, '');

    expect(await followed).toEqual({ type: 'end', status: 'succeeded', exitCode: 0, signal: null });
    expect(reconnects[0]?.closeCode).toBe(1012);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i)); // none twice, none skipped
    const stored = await client.jobs.logs(job.id);
    expect(Buffer.concat(chunks.map((c) => c.data)).equals(Buffer.from(stored))).toBe(true);
    expect(Buffer.from(stored).toString()).toMatch(/^line 1\n[\s\S]*\nlast\n$/);
  }, 120_000);

  it('npm run follow writes the bytes as they were written and exits with the job\'s code', async () => {
    const job = await client.jobs.submit({ command: "printf 'a\\0b\\n'; printf 'oops\\n' >&2; exit 3" });
    const run = spawn(process.execPath, ['--import', 'tsx', 'scripts/follow-job.ts', job.id], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, VMO_URL: system.apiUrls.at(-1)!, VMO_TOKEN: system.token },
    });
    const out: Buffer[] = [];
    let err = '';
    run.stdout.on('data', (d: Buffer) => out.push(d));
    run.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((r) => run.on('close', r));
    expect(Buffer.concat(out).equals(Buffer.from('a\0b\n'))).toBe(true);
    expect(err).toContain('oops\n');
    expect(err).toContain(`job ${job.id} failed (exit 3)`);
    expect(code).toBe(3);
  });
});
