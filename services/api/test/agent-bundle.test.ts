/**
 * Issue 12, the agent the control plane serves: GET /v1/agent/download needs no credential, so a
 * failing build must not run again for every request (one build at a time, a failure remembered
 * for a minute, 503 meanwhile); the bundle is built with the agent's own options (the bytes of
 * `npm run build`); and the served installer carries the unit byte for byte, `$&` and all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentBundle, AgentBundleUnavailable } from '../src/routes/agent-bundle.ts';
import { AGENT_SOURCE_DIR, agentDownloadRoutes, servedInstallScript } from '../src/routes/agent-download.ts';
import { startInProcessApp, type InProcessApp } from './in-process-app.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('the served agent bundle', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmo-agent-bundle-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** An agent directory of its own: the real build options, and a main.ts the test writes. */
  function agentDir(name: string, main: string): string {
    const root = join(dir, name);
    mkdirSync(join(root, 'src'), { recursive: true });
    copyFileSync(join(AGENT_SOURCE_DIR, 'build-options.mjs'), join(root, 'build-options.mjs'));
    writeFileSync(join(root, 'package.json'), '{ "name": "fake-agent", "version": "9.9.9" }\n');
    writeFileSync(join(root, 'src', 'main.ts'), main);
    return `${root}/`;
  }

  it('is byte for byte what `npm run build` (services/agent/build.mjs) writes: one set of options', async () => {
    const served = await new AgentBundle(AGENT_SOURCE_DIR).get();
    const out = join(dir, 'built.mjs');
    execFileSync(process.execPath, [join(AGENT_SOURCE_DIR, 'build.mjs'), out], { stdio: 'pipe' });
    expect(sha256(readFileSync(out))).toBe(served.sha256);
    expect(served.version).toBe(JSON.parse(readFileSync(join(AGENT_SOURCE_DIR, 'package.json'), 'utf8')).version);
  });

  it('carries no zod (issue 16: 81 % of the bundle was zod): the agent checks frames and settings by hand', async () => {
    const code = Buffer.from((await new AgentBundle(AGENT_SOURCE_DIR).get()).code).toString('utf8');
    // esbuild names each inlined module's path in a comment; zod's classes name themselves.
    expect(code).not.toMatch(/node_modules\/zod\/|ZodError|\$ZodType/);
  });

  it('builds once for requests arriving together; a failed build is remembered for a minute (no build meanwhile), then tried again', async () => {
    const root = agentDir('broken', 'export const = ;\n');
    let now = 1_000_000;
    const logged: string[] = [];
    const bundle = new AgentBundle(root, { now: () => now, log: { error: (_obj: unknown, msg?: string) => void logged.push(String(msg)) } as never });

    const together = await Promise.allSettled([bundle.get(), bundle.get(), bundle.get()]);
    expect(together.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((together[0] as PromiseRejectedResult).reason).toBeInstanceOf(AgentBundleUnavailable);
    expect(bundle.buildsStarted).toBe(1);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('could not build the agent bundle');

    // Fixed on disk, but within the minute nothing is built: every request is refused at once.
    writeFileSync(join(root, 'src', 'main.ts'), "console.log('fixed');\n");
    now += 59_000;
    const refused = await bundle.get().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AgentBundleUnavailable);
    expect((refused as AgentBundleUnavailable).retryAfterSeconds).toBe(1);
    expect(bundle.buildsStarted).toBe(1);

    now += 1_000;
    const [a, b] = await Promise.all([bundle.get(), bundle.get()]);
    expect(bundle.buildsStarted).toBe(2);
    expect(a).toBe(b);
    expect(Buffer.from(a.code).toString()).toContain('fixed');
    expect(a.version).toBe('9.9.9');
    await bundle.get();
    expect(bundle.buildsStarted).toBe(2);
  });

  it('the installer carries the unit verbatim: `$&`, `$\'`, `` $` `` and `$$` are not expanded', () => {
    const script = readFileSync(join(AGENT_SOURCE_DIR, 'deploy', 'install.sh'), 'utf8');
    const unit = `${readFileSync(join(AGENT_SOURCE_DIR, 'deploy', 'vmo-agent.service'), 'utf8')}Environment=ODD=a$&b$'c$\`d$$e\n`;
    const sha = 'ab'.repeat(32);
    const served = servedInstallScript(script, unit, sha);
    expect(served).toContain(unit);
    expect(served).toContain(`\nserved=yes\nserved_sha256=${sha}\n`);
    expect(served).not.toContain('#@VMO_SERVED_SETTINGS@');
    expect(spawnSync('sh', ['-n'], { input: served }).status).toBe(0);
    // What the served copy's served_unit() prints is the unit, byte for byte.
    const settings = served.slice(served.indexOf('served=yes'), served.indexOf('VMO_AGENT_UNIT_END\n}') + 'VMO_AGENT_UNIT_END\n}'.length);
    expect(spawnSync('sh', ['-c', `${settings}\nserved_unit`], { encoding: 'utf8' }).stdout).toBe(unit);
  });

  describe('GET /v1/agent/download and /v1/agent/install.sh while the build fails', () => {
    let api: InProcessApp;
    beforeAll(async () => {
      api = await startInProcessApp('agent_bundle');
    }, 120_000);
    afterAll(async () => api?.close());

    it('answer 503 JSON with Retry-After, and build nothing more', async () => {
      const bundle = new AgentBundle(agentDir('route', 'export const = ;\n'));
      const routes = agentDownloadRoutes(api.cp, bundle);
      for (const path of ['/v1/agent/download', '/v1/agent/install.sh', '/v1/agent/download']) {
        const res = await routes.request(path);
        expect(res.status, path).toBe(503);
        expect(res.headers.get('content-type')).toContain('application/json');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('unavailable');
        expect(body.error.message).toContain('the agent bundle could not be built');
      }
      expect(bundle.buildsStarted).toBe(1);
    });
  });
});
