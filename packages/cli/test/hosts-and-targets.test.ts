/**
 * Issue 12: `vmo hosts ls|add|rm|import` and `vmo targets SELECTOR` against the real stack, the
 * real CLI as a child process. An import of a real-world ssh config prints every alias created,
 * updated, unchanged and skipped (with the reason the API gives); listings match the API.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { runCli } from './run-cli.ts';

const FIXTURES = fileURLToPath(new URL('../../shared/test/fixtures/ssh-config/', import.meta.url));
/** A work laptop's config: an Include (skipped, with its reason), Match user, patterns. */
const LAPTOP = join(FIXTURES, 'own-work-laptop.conf');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Generous: each `vmo` is a Node process loading TypeScript through tsx, slow on a loaded machine.
describe('vmo hosts and vmo targets (real stack)', { timeout: 300_000 }, () => {
  let system: TestSystem;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'cli_hosts', workers: 0 });
    dir = mkdtempSync(join(tmpdir(), 'vmo-hosts-'));
    env = { VMO_SERVER: system.apiUrls[0]!, VMO_TOKEN: system.token, XDG_CONFIG_HOME: join(dir, 'xdg'), HOME: dir };
  }, 240_000);
  afterAll(async () => {
    await system?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const vmo = (args: string[], input?: string) => runCli(args, { env, cwd: dir, timeoutMs: 240_000, ...(input === undefined ? {} : { input }) });
  /** Under the RESULT HOST DETAIL header, `created  router@default  root@192.168.1.1:22` → ['created', 'router@default', 'root@…']. */
  const rowsOf = (text: string) => {
    const lines = text.trimEnd().split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^RESULT +HOST +DETAIL$/);
    return lines.slice(1).map((l) => /^(\S+) +(\S+) +(.*)$/.exec(l)!.slice(1));
  };

  it('import prints what was created and skipped, with the reasons the API gives; a second import is unchanged; a changed host is updated', async () => {
    const first = await vmo(['hosts', 'import', LAPTOP]);
    expect(first.code, first.stderr.toString()).toBe(0);
    const printed = rowsOf(first.stdout.toString().split('\n').filter((l) => !l.startsWith('skipped ') && !l.startsWith('warning ')).join('\n'));
    // The same file again, as JSON: the API's own account of every alias (now all unchanged).
    const again = await vmo(['hosts', 'import', LAPTOP, '--json']);
    const result = JSON.parse(again.stdout.toString()) as {
      created: unknown[];
      updated: unknown[];
      unchanged: { ref: string; user: string; host: string; port: number }[];
      skipped: { alias: string; reason: string; line?: number }[];
    };
    expect(result.created).toEqual([]);
    expect(result.unchanged.length).toBeGreaterThan(3);
    expect(printed.filter((r) => r[0] === 'created')).toEqual(result.unchanged.map((h) => ['created', h.ref, `${h.user}@${h.host}:${h.port}`]));
    // Skipped entries name what was skipped (an Include line, with spaces) and why.
    expect(result.skipped.length).toBeGreaterThan(0);
    const out = first.stdout.toString();
    expect(out.match(/^skipped /gm)).toHaveLength(result.skipped.length);
    for (const s of result.skipped) expect(out).toMatch(new RegExp(`^skipped +${escape(s.alias)} +${escape(`${s.line === undefined ? '' : `line ${s.line}: `}${s.reason}`)}$`, 'm'));
    expect(out).toMatch(/^skipped +Include ~\/\.ssh\/config\.d\/\* +line 4: \S/m);
    expect(printed).toContainEqual(['created', 'staging-db@default', 'postgres@db.staging.example.com:22']);
    expect(printed).toContainEqual(['created', 'build-01@default', 'ci@build-01.ci.example.com:2022']);
    expect(first.stderr.toString()).toContain(`${LAPTOP}: ${result.unchanged.length} created, 0 updated, 0 unchanged, ${result.skipped.length} skipped`);

    // A host changed since: the import puts the config's settings back, and says so.
    await system.client.vmo.hosts.update('staging-db', { port: 2200 });
    const third = await vmo(['hosts', 'import', LAPTOP]);
    expect(third.stdout.toString()).toMatch(/^updated +staging-db@default +postgres@db\.staging\.example\.com:22$/m);
    expect(third.stdout.toString().match(/^unchanged /gm)).toHaveLength(result.unchanged.length - 1);
    expect(first.stdout.toString() + third.stdout.toString()).not.toContain('\x1b['); // a pipe: no colour
  });

  it('import reads ~/.ssh/config by default and stdin with -; a file it cannot read is named', async () => {
    mkdirSync(join(dir, '.ssh'));
    writeFileSync(join(dir, '.ssh', 'config'), 'Host home-1\n  HostName 10.1.0.1\n  User ops\n');
    const byDefault = await vmo(['hosts', 'import']);
    expect(byDefault.code, byDefault.stderr.toString()).toBe(0);
    expect(rowsOf(byDefault.stdout.toString())).toEqual([['created', 'home-1@default', 'ops@10.1.0.1:22']]);
    const stdin = await vmo(['hosts', 'import', '-', '--environment', 'lab'], 'Host lab-1\n  HostName 10.2.0.1\n  User ops\n  Port 2022\n');
    expect(rowsOf(stdin.stdout.toString())).toEqual([['created', 'lab-1@lab', 'ops@10.2.0.1:2022']]);
    const missing = await vmo(['hosts', 'import', join(dir, 'nope')]);
    expect(missing.code).toBe(70);
    expect(missing.stderr.toString()).toContain('cannot read it (ENOENT)');
  });

  it('ls --json is the API\'s hosts; the table is aligned; add and rm', async () => {
    const add = await vmo(['hosts', 'add', 'db-1', 'deploy@10.0.0.5:2222', '--labels', 'env=prod,role=db', '--environment', 'prod', '--host-key-policy', 'accept-new']);
    expect(add.code, add.stderr.toString()).toBe(0);
    expect(add.stdout.toString()).toMatch(/^db-1@prod \(host_\w+\) added: deploy@10\.0\.0\.5:2222\n$/);

    const json = await vmo(['hosts', 'ls', '--json']);
    const listed = JSON.parse(json.stdout.toString());
    expect(listed).toEqual((await system.client.vmo.hosts.list({ limit: 500 })).items);

    const table = await vmo(['hosts', 'ls', '--environment', 'prod']);
    expect(table.stdout.toString()).toMatch(/^NAME +ADDRESS +LABELS\ndb-1@prod +deploy@10\.0\.0\.5:2222 +env=prod,role=db\n$/);
    const wide = await vmo(['hosts', 'ls', '--environment', 'prod', '-o', 'wide']);
    expect(wide.stdout.toString().split('\n')[0]).toMatch(/^NAME +ADDRESS +LABELS +PROXY JUMP +HOST KEY +MAX JOBS +ID +DESCRIPTION$/);
    expect(wide.stdout.toString()).toMatch(/db-1@prod .* accept-new +- +host_\w+ +-$/m);

    const rm = await vmo(['hosts', 'rm', '--json', 'db-1@prod']);
    expect(rm.code, rm.stderr.toString()).toBe(0);
    expect(JSON.parse(rm.stdout.toString())).toEqual({ id: listed.find((h: { ref: string }) => h.ref === 'db-1@prod').id, ref: 'db-1@prod' });
    expect((await system.client.request('GET', '/v1/hosts/db-1@prod')).status).toBe(404);
    const none = await vmo(['hosts', 'ls', '--environment', 'prod']);
    expect(none.stdout.toString()).toBe('NAME  ADDRESS  LABELS\n');
    expect(none.stderr.toString()).toContain('no hosts');
    const bad = await vmo(['hosts', 'add', 'x', 'no-user-here']);
    expect(bad.code).toBe(2);
  });

  it('targets SELECTOR previews what it matches, as GET /v1/targets; a bad selector is the API\'s 400', async () => {
    await system.client.vmo.hosts.create({ name: 'web-9', host: '10.0.9.9', user: 'deploy', labels: { env: 'prod', role: 'web' } });
    await system.client.vmo.hosts.create({ name: 'web-8', host: '10.0.9.8', user: 'deploy', labels: { env: 'staging', role: 'web' } });
    const json = await vmo(['targets', 'role=web,env=prod', '--json']);
    expect(json.code, json.stderr.toString()).toBe(0);
    expect(JSON.parse(json.stdout.toString())).toEqual(await system.client.vmo.targets.preview({ selector: 'role=web,env=prod' }));
    const table = await vmo(['targets', 'role=web']);
    expect(table.stdout.toString()).toMatch(/^KIND +NAME +STATUS +LABELS\nssh +web-8@default +- +env=staging,role=web\nssh +web-9@default +- +env=prod,role=web\n$/);
    const limited = await vmo(['targets', 'role=web', '--limit', '1', '-o', 'wide']);
    expect(limited.stdout.toString()).toMatch(/^KIND +NAME +STATUS +LABELS +ID\nssh +web-8@default +- +env=staging,role=web +host_\w+\n$/);
    expect(limited.stderr.toString()).toContain('1 of 2 shown');
    const bad = await vmo(['targets', 'role in (web']);
    expect(bad.code).toBe(70);
    expect(bad.stderr.toString()).toMatch(/^vmo: validation_failed: selector/m);
  });
});
