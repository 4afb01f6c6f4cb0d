import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../../../scripts/build-services.mjs';
import { copyOf, parseDockerfile, type Stage } from './dockerfile.ts';

/**
 * The Dockerfile and the compose file, checked without a Docker engine (there is none here or on
 * CI): the Dockerfile parsed (dockerfile.ts) and held to what the image must be, the compose file
 * checked by `docker-compose config` (Debian's docker-compose 1.29, which needs no engine; .ci/run
 * installs it without its recommended engine). The image itself is not built by any test.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1)!;
const stage = (name: string): Stage => stages.find((s) => s.name === name) ?? expect.fail(`no stage ${name}`);
const ops = (s: Stage, op: string) => s.instructions.filter((i) => i.op === op);
const copies = (s: Stage) => ops(s, 'COPY').map(copyOf);
const runs = (s: Stage) => ops(s, 'RUN').map((i) => i.text);
/** What `npm run build` writes: the services' bundles (scripts/build-services.mjs), the dashboard's and the CLI's. */
const BUILT = [...Object.values(SERVICES).map((s) => s.outfile), 'packages/dashboard/dist', 'packages/cli/dist'];
/** The bundles as the runtime stage has them. */
const inRuntime = copies(runtime).flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '')));
/** .dockerignore, as the patterns this repository uses (names, `**\/name`, paths). */
const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
const isIgnored = (path: string) => ignored.some((p) => path === p || path.startsWith(`${p}/`) || (p.startsWith('**/') && path.split('/').includes(p.slice(3))));

describe('Dockerfile', () => {
  it('has a manifests, a build and a runtime stage, and copies only from earlier stages', () => {
    expect(stages.map((s) => s.name)).toEqual(['manifests', 'build', '2']);
    stages.forEach((s, index) => {
      for (const { from } of copies(s)) if (from !== undefined) expect(stages.slice(0, index).map((e) => e.name), `${s.name} copies from ${from}`).toContain(from);
    });
  });

  it('copies from the repository only files that exist and that .dockerignore lets through', () => {
    const sources = stages.flatMap((s) => copies(s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
    expect(sources.filter((src) => !existsSync(join(ROOT, src)))).toEqual([]);
    expect(sources.filter(isIgnored)).toEqual([]);
  });

  it("copies every workspace's manifest before npm ci (npm ci needs them all, with -w too)", () => {
    const workspaces: string[] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).workspaces;
    // `dir/*` or `dir`, the two forms the root's workspaces use.
    const dirs = workspaces.flatMap((w) => (w.endsWith('/*') ? readdirSync(join(ROOT, w.slice(0, -2))).map((d) => `${w.slice(0, -2)}/${d}`) : [w]));
    const manifests = dirs.map((d) => `${d}/package.json`).filter((m) => existsSync(join(ROOT, m)));
    const copied = copies(stage('manifests')).flatMap((c) => c.sources);
    expect(copied.sort()).toEqual(['package.json', 'package-lock.json', ...manifests].sort());
  });

  it('builds with every dependency: npm ci, then npm run build, without NODE_ENV=production', () => {
    const build = stage('build');
    expect(runs(build)).toEqual(['npm ci --no-audit --no-fund', 'npm run build']);
    expect(ops(build, 'ENV').map((i) => i.text).join(' ')).not.toMatch(/NODE_ENV/);
  });

  it('runs with production dependencies only, of the workspaces the built files import', () => {
    expect(ops(runtime, 'ENV').map((i) => i.text)).toContain('NODE_ENV=production');
    const install = runs(runtime).find((r) => r.startsWith('npm ci'));
    expect(install).toMatch(/ --omit=dev /);
    for (const name of ['@vmo/app', '@vmo/api', '@vmo/worker', '@vmo/agent']) expect(install).toContain(` -w ${name}`);
    expect(runs(runtime).join('\n')).not.toMatch(/\btsx\b/);
  });

  it('takes each built file from the build stage, and what they read at run time from the repository', () => {
    for (const { from, sources } of copies(runtime).filter((c) => c.from === 'build')) {
      for (const src of sources) expect(BUILT, `COPY --from=build ${src}`).toContainEqual(expect.stringMatching(new RegExp(`^${src.replace(/^\/app\//, '').replace(/\/$/, '')}(/|$)`)));
      expect(from).toBe('build');
    }
    for (const name of ['app', 'api', 'worker', 'agent'] as const) expect(inRuntime).toContain(SERVICES[name].outfile.replace(/\/[^/]+$/, ''));
    // The migrations; the dashboard's files; the agent's sources, options and tsconfigs (the API
    // bundles the agent it serves from them, byte for byte `npm run build`'s); its installer.
    for (const path of ['packages/shared/drizzle', 'packages/dashboard/dist', 'packages/shared/src', 'services/agent/src', 'services/agent/build-options.mjs', 'services/agent/tsconfig.json', 'packages/shared/tsconfig.json', 'tsconfig.base.json', 'services/agent/deploy']) {
      expect(inRuntime).toContain(path);
    }
  });

  it('runs node on a built file, as a user who is not root, under tini as PID 1, with a health check on /health/ready', () => {
    const [user] = ops(runtime, 'USER').map((i) => i.text).reverse();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(runs(runtime).some((r) => /apt-get install .*\btini\b/.test(r))).toBe(true);
    expect(ops(runtime, 'ENTRYPOINT').at(-1)?.args).toEqual(['/usr/bin/tini', '--']);
    const cmd = ops(runtime, 'CMD').at(-1)?.args ?? [];
    expect(cmd).toEqual(['node', SERVICES.api.outfile]);
    const health = ops(runtime, 'HEALTHCHECK').at(-1);
    expect(health?.args[0]).toBe('CMD');
    expect(health?.args.join(' ')).toContain('/health/ready');
  });
});

describe('docker-compose.yml', () => {
  const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  // The compose file writes each command as a JSON array (flow style): read them as JSON.
  const commands = [...compose.matchAll(/^ {2}([\w-]+):\n(?:(?! {2}\S).*\n)*? {4}command: (\[.*\])$/gm)].map((m) => ({ service: m[1]!, args: JSON.parse(m[2]!) as string[] }));

  it('starts each vmo service as node on a file the image has: a built one, or the enrol script', () => {
    const ours = commands.filter((c) => c.args[0] === 'node');
    expect(ours.map((c) => c.service).sort()).toEqual(['agent', 'agent-enroll', 'api', 'worker']);
    const runnable = [...Object.values(SERVICES).map((s) => s.outfile), 'services/agent/deploy/enroll-and-run.mjs'];
    for (const { service, args } of ours) {
      expect(runnable, service).toContain(args[1]);
      expect(inRuntime.some((path) => args[1] === path || args[1]!.startsWith(`${path}/`)), `${service}: ${args[1]} is not in the image`).toBe(true);
    }
    expect(compose).not.toMatch(/\btsx\b|\bnpm (run|start)\b/);
  });

  // Debian's docker-compose checks the file without an engine. .ci/run installs it; elsewhere the
  // check is skipped, saying so in its name and on stderr.
  const dockerCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  if (!dockerCompose) process.stderr.write('container-files.test.ts: docker-compose is not installed: the compose file is not checked (apt-get install --no-install-recommends docker-compose)\n');
  const dir = mkdtempSync(join(tmpdir(), 'vmo-compose-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = (env: Record<string, string>) => spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });

  it.skipIf(!dockerCompose)(`docker-compose config accepts it${dockerCompose ? '' : ' (SKIPPED: docker-compose is not installed; apt-get install --no-install-recommends docker-compose)'}`, () => {
    const tokenFile = join(dir, 'admin-token');
    writeFileSync(tokenFile, 'vmo_adm_not-used-only-checked-0123456789\n', { mode: 0o600 });
    const ok = config({ VMO_ADMIN_TOKEN_FILE: tokenFile });
    expect(ok.status, ok.stderr).toBe(0);
    expect(execFileSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config', '--services'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', VMO_ADMIN_TOKEN_FILE: tokenFile } }).split('\n').filter(Boolean).sort())
      .toEqual(['agent', 'agent-enroll', 'api', 'postgres', 'redis', 'worker']);
    // The admin token reaches the containers as this file, never as a variable.
    expect(ok.stdout).toContain(`file: ${tokenFile}`);
    expect(ok.stdout).not.toContain('vmo_adm_');
    // Without the file named, it stops with the reason.
    const missing = config({});
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/set VMO_ADMIN_TOKEN_FILE to a file holding the admin token/);
  });
});
