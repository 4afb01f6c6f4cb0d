import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
// The YAML parser @vmo/shared reads inventories with: `docker-compose config` prints YAML.
import { parse as parseYaml } from 'yaml';
import { freePort, waitFor } from '@vmo/testkit';
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

/**
 * The high-availability topology (deploy/ha, README "Deployment", issue 19): `docker-compose config`
 * accepts it and its resolved form is held to what the topology promises; the load balancer's file
 * is checked by `haproxy -c` and run for real in front of two stand-in nodes. Each tool missing
 * skips its part, saying so in the test's name and on stderr (.ci/run installs both).
 */
describe('deploy/ha/docker-compose.yml', () => {
  const HA = join(ROOT, 'deploy/ha');
  const file = join(HA, 'docker-compose.yml');
  const dockerCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  const haproxy = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0;
  if (!haproxy) process.stderr.write('container-files.test.ts: haproxy is not installed: deploy/ha/haproxy.cfg is not checked (apt-get install haproxy)\n');
  const dir = mkdtempSync(join(tmpdir(), 'vmo-compose-ha-'));
  // The haproxy the last case starts: killed here too, should the case time out before its finally.
  let lbProcess: ReturnType<typeof spawn> | undefined;
  afterAll(() => {
    lbProcess?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, 'vmo_adm_not-used-only-checked-0123456789\n', { mode: 0o600 });
  const config = (env: Record<string, string>) => spawnSync('docker-compose', ['-f', file, 'config'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });

  interface Service {
    command?: string[];
    environment?: Record<string, string>;
    secrets?: (string | { source: string })[];
    networks?: Record<string, { ipv4_address?: string } | null>;
    volumes?: (string | { source?: string; target: string })[];
  }
  // `docker-compose config` takes seconds: run once, for every case that reads its answer.
  let once: { text: string; services: Record<string, Service> } | undefined;
  const resolved = () => {
    if (once) return once;
    const ok = config({ VMO_ADMIN_TOKEN_FILE: tokenFile });
    expect(ok.status, ok.stderr).toBe(0);
    return (once = { text: ok.stdout, services: (parseYaml(ok.stdout) as { services: Record<string, Service> }).services });
  };
  const ours = (services: Record<string, Service>) => Object.entries(services).filter(([, s]) => s.command?.[0] === 'node');
  const apis = (services: Record<string, Service>) => Object.keys(services).filter((n) => /^api-\d+$/.test(n)).sort();
  const skipped = (what: string) => (dockerCompose ? '' : ` (SKIPPED: docker-compose is not installed; ${what})`);

  it.skipIf(!dockerCompose)(`docker-compose config accepts it: stores, 2 APIs behind a load balancer, 2 workers, one agent${skipped('apt-get install --no-install-recommends docker-compose')}`, () => {
    const { services } = resolved();
    expect(Object.keys(services).sort()).toEqual([
      'agent', 'agent-enroll', 'api-1', 'api-2', 'lb', 'postgres-primary', 'postgres-standby',
      'redis-primary', 'redis-replica', 'redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3', 'worker-1', 'worker-2',
    ]);
    const runnable = [...Object.values(SERVICES).map((s) => s.outfile), 'services/agent/deploy/enroll-and-run.mjs'];
    for (const [name, s] of ours(services)) expect(runnable, name).toContain(s.command![1]);
    // Without the file named, it stops with the reason.
    const missing = config({});
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/set VMO_ADMIN_TOKEN_FILE to a file holding the admin token/);
  });

  it.skipIf(!dockerCompose)(`every vmo service gets the admin token only as the secret file, and only the APIs and the enrolment do${skipped('')}`, () => {
    const { text, services } = resolved();
    expect(text).toContain(`file: ${tokenFile}`);
    expect(text).not.toContain('vmo_adm_');
    for (const [name, s] of ours(services)) {
      const env = s.environment ?? {};
      expect(Object.keys(env).filter((k) => k === 'VMO_ADMIN_TOKEN' || (k.startsWith('VMO_ADMIN') && k !== 'VMO_ADMIN_TOKEN_FILE')), name).toEqual([]);
      const hasSecret = (s.secrets ?? []).some((x) => (typeof x === 'string' ? x : x.source) === 'vmo_admin_token');
      const wanted = /^api-\d+$/.test(name) || name === 'agent-enroll';
      expect(hasSecret, name).toBe(wanted);
      expect(env.VMO_ADMIN_TOKEN_FILE, name).toBe(wanted ? '/run/secrets/vmo_admin_token' : undefined);
    }
  });

  it.skipIf(!dockerCompose)(`the APIs and workers get the sentinels and the multi-host Postgres URL, and their own settings schemas accept them${skipped('')}`, async () => {
    const { services } = resolved();
    const { apiEnv } = await import('@vmo/api');
    const { workerEnv } = await import('@vmo/worker');
    const { parsePostgresUrl, redisTargetOf } = await import('@vmo/shared/config');
    const sentinels = Object.keys(services).filter((n) => n.startsWith('redis-sentinel-')).sort();
    const monitored = /sentinel monitor (\S+) redis-primary 6379 2/.exec(services[sentinels[0]!]!.command!.join(' '))?.[1];
    expect(monitored).toBeDefined();
    const nodes = ours(services).filter(([name]) => /^(api|worker)-\d+$/.test(name));
    expect(nodes.map(([n]) => n).sort()).toEqual(['api-1', 'api-2', 'worker-1', 'worker-2']);
    for (const [name, s] of nodes) {
      const env = s.environment!;
      const redis = redisTargetOf(env);
      expect(redis, name).toEqual({ mode: 'sentinel', name: monitored, sentinels: sentinels.map((host) => ({ host, port: 26379 })) });
      expect(env.VMO_REDIS_URL, name).toBeUndefined();
      const pg = parsePostgresUrl(env.VMO_DATABASE_URL!);
      expect(pg?.hosts, name).toEqual([{ host: 'postgres-primary', port: 5432 }, { host: 'postgres-standby', port: 5432 }]);
      expect(pg?.params.get('target_session_attrs'), name).toBe('read-write');
      // The secret arrives as a file; VMO_RUN_AS names the image's user (this machine may have no
      // `node`); everything else as the process reads it.
      const plain = Object.fromEntries(Object.entries(env).filter(([k]) => !k.endsWith('_FILE') && k !== 'VMO_RUN_AS'));
      const parsed = (name.startsWith('api') ? apiEnv : workerEnv).safeParse(plain);
      expect(parsed.success, `${name}: ${parsed.error?.message}`).toBe(true);
    }
  });

  it.skipIf(!dockerCompose)(`the load balancer's file names every API node, and its fixed address is the one the APIs trust${skipped('')}`, () => {
    const { services } = resolved();
    const cfg = readFileSync(join(HA, 'haproxy.cfg'), 'utf8');
    const servers = [...cfg.matchAll(/^\s*server (\S+) (\S+):(\d+)\s*$/gm)].map((m) => ({ name: m[1], host: m[2], port: Number(m[3]) }));
    expect(servers).toEqual(apis(services).map((n) => ({ name: n, host: n, port: 3121 })));
    expect(cfg).toMatch(/^\s*option httpchk GET \/health\/ready$/m);
    expect(cfg).not.toMatch(/\bcookie\b|\bstick\b|balance source/); // no stickiness
    const lb = services.lb!;
    expect(lb.volumes?.map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`)).join(' ')).toContain(`${join(HA, 'haproxy.cfg')}:/usr/local/etc/haproxy/haproxy.cfg`);
    const address = lb.networks?.vmo?.ipv4_address;
    expect(address).toBeDefined();
    for (const name of apis(services)) expect(services[name]!.environment!.VMO_TRUSTED_PROXIES, name).toBe(`${address}/32`);
  });

  it.skipIf(!haproxy)(`haproxy -c accepts haproxy.cfg${haproxy ? '' : ' (SKIPPED: haproxy is not installed; apt-get install haproxy)'}`, () => {
    const checked = spawnSync('haproxy', ['-c', '-f', join(HA, 'haproxy.cfg')], { encoding: 'utf8' });
    expect(checked.status, checked.stdout + checked.stderr).toBe(0);
    // The only warnings allowed: the API nodes' names do not resolve outside the compose network.
    const warnings = (checked.stdout + checked.stderr).split('\n').filter((l) => /\[(WARNING|ALERT)\]/.test(l));
    expect(warnings.filter((l) => !/could not resolve address 'api-\d+'/.test(l))).toEqual([]);
  });

  it.skipIf(!haproxy)(`haproxy.cfg run for real: only ready nodes get traffic, user headers are stripped, the client's address is forwarded, an upgrade becomes a tunnel${haproxy ? '' : ' (SKIPPED: haproxy is not installed; apt-get install haproxy)'}`, async () => {
    // Two stand-ins for the API nodes: each says who it is, echoes the headers it got, answers
    // /health/ready as told, and echoes bytes on an upgraded connection.
    const ready = { 'api-1': true, 'api-2': false };
    const tunnels = new Set<Socket>();
    const nodes = await Promise.all((['api-1', 'api-2'] as const).map(async (name) => {
      const server = createServer((req, res) => {
        if (req.url === '/health/ready') return void res.writeHead(ready[name] ? 200 : 503).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ node: name, headers: req.headers }));
      });
      server.on('upgrade', (req, socket: Socket) => {
        // haproxy checks the accept header against the key (RFC 6455 §4.2.2): a real answer.
        const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Node: ${name}\r\n\r\n`);
        tunnels.add(socket);
        socket.on('data', (d) => socket.write(d));
        socket.on('end', () => socket.end());
      });
      const port = await freePort();
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      return { name, server, port };
    }));
    const lbPort = await freePort();
    // The file as it is, but on loopback ports and checking every 500 ms instead of 2 s (a check
    // answered later than its interval fails: less would flap on a busy machine).
    let cfg = readFileSync(join(HA, 'haproxy.cfg'), 'utf8').replace(/^(\s*)bind :3121$/m, `$1bind 127.0.0.1:${lbPort}`).replace(/inter 2s/, 'inter 500ms');
    for (const n of nodes) cfg = cfg.replace(new RegExp(`^(\\s*server ${n.name}) ${n.name}:3121$`, 'm'), `$1 127.0.0.1:${n.port}`);
    expect(cfg).not.toMatch(/server api-\d+ api-/);
    const cfgFile = join(dir, 'haproxy.cfg');
    writeFileSync(cfgFile, cfg);
    const lb = (lbProcess = spawn('haproxy', ['-db', '-f', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let lbOut = '';
    lb.stdout.on('data', (d) => (lbOut += d));
    lb.stderr.on('data', (d) => (lbOut += d));
    onTestFailed(() => console.log(lbOut));
    const get = async (headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${lbPort}/v1/me`, { headers });
      return res.status === 200 ? ((await res.json()) as { node: string; headers: Record<string, string> }) : undefined;
    };
    const onlyTo = async (node: string) => waitFor(`every request to ${node}`, async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, () => get().catch(() => undefined)));
      return answers.every((a) => a?.node === node) || undefined;
    }, 20_000, 100);
    try {
      await onlyTo('api-1');
      const seen = (await get({ 'X-VM-User': 'admin@example.com', 'X-VM-Email': 'admin@example.com', 'X-Forwarded-For': '6.6.6.6' }))!;
      expect(seen.headers['x-vm-user']).toBeUndefined();
      expect(seen.headers['x-vm-email']).toBeUndefined();
      // haproxy appends the peer it saw; the API reads X-Forwarded-For from the right.
      expect(seen.headers['x-forwarded-for']?.split(',').map((h) => h.trim()).at(-1)).toBe('127.0.0.1');
      // The other node becomes ready and this one not (a node draining): traffic follows.
      ready['api-2'] = true;
      ready['api-1'] = false;
      await onlyTo('api-2');
      // An upgrade: 101 from the node, then bytes both ways through the tunnel.
      const echoed = await new Promise<string>((resolve, reject) => {
        const socket = connect(lbPort, '127.0.0.1');
        let got = '';
        socket.on('error', reject);
        socket.on('connect', () => socket.write('GET /v1/jobs/x/stream HTTP/1.1\r\nHost: lb\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'));
        socket.on('data', (d) => {
          got += d.toString('latin1');
          if (!got.includes('\r\n\r\n')) return;
          if (!got.startsWith('HTTP/1.1 101 ')) {
            socket.destroy();
            return resolve(got);
          }
          if (!got.includes('tunnel-bytes')) socket.write('tunnel-bytes');
          if (got.endsWith('tunnel-bytes')) {
            socket.destroy();
            resolve(got);
          }
        });
      });
      expect(echoed).toMatch(/^HTTP\/1\.1 101 /);
      expect(echoed).toMatch(/^x-node: api-2\r$/im); // haproxy writes header names in lower case
      expect(echoed.endsWith('\r\n\r\ntunnel-bytes')).toBe(true);
    } finally {
      lb.kill('SIGKILL');
      for (const socket of tunnels) socket.destroy();
      for (const n of nodes) n.server.closeAllConnections();
      await Promise.all(nodes.map((n) => new Promise((r) => n.server.close(r))));
    }
  }, 60_000);
});
