import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, createTestPrefix, freePort, processesMatching, registerSecret, serviceLogDir, uniqueSleepArg, unusedTestDatabase, waitFor, type TestDatabase } from '@vmo/testkit';
import { openDatabase } from '@vmo/shared/db';
import { TERMINAL_STATUSES } from '@vmo/shared/domain';

/**
 * `npm start` stopped the way a user stops it, with the built JavaScript it runs in production.
 *
 * Why the scripts say `exec node …`: npm 11 forwards SIGTERM and SIGINT to its child only, and that
 * child is `sh -c "<script>"`. Debian's sh (dash) does not exec a lone command, so the child was sh,
 * which died of the forwarded signal while node, re-parented to PID 1, went on serving and running
 * jobs. With `exec`, sh becomes node: npm's signal reaches the process that drains.
 *
 * Each test starts the real `npm start` (pre-script and all) on a database, Redis prefix, port and
 * admin token of its own, records its whole process tree while a job runs, signals it, and then
 * checks what is left: nothing listening, no process of the tree alive (nor any process carrying
 * this test's prefix: a re-parented node would), and no job non-terminal in Postgres.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Long enough for a start on two loaded cores (a build, if the sources changed, comes first). */
const START_DEADLINE_MS = 120_000;
/** The drain (2 s here) plus the stop grace of the jobs it cancels, plus plenty of room. */
const STOP_DEADLINE_MS = 60_000;
const TEST_TIMEOUT_MS = START_DEADLINE_MS + 2 * STOP_DEADLINE_MS;

let db: TestDatabase;
let redis: ReturnType<typeof createTestPrefix>;
const started: NpmStart[] = [];
const markers: string[] = [];

beforeAll(() => {
  db = unusedTestDatabase('sigterm');
  redis = createTestPrefix('sigterm');
});

afterAll(async () => {
  // Only after a failure is anything still running: end exactly what these tests started.
  for (const s of started) s.killGroup();
  // A pid of the tree still running the command it ran then (a pid may since have been reused).
  for (const [pid, command] of started.flatMap((s) => [...s.commands])) if (isAlive(pid) && commandLine(pid) === command) killQuietly(pid, 'SIGKILL');
  for (const file of markers) rmSync(file, { force: true });
  await redis?.cleanup();
  await db?.drop();
});

describe('npm start, stopped as a user stops it', () => {
  it('SIGTERM to the npm process: it drains, the port closes, every process of its tree exits, no job is left non-terminal', async () => {
    const app = await NpmStart.begin();
    const sleepArg = uniqueSleepArg();
    // A local job (the worker's own child) that would run for 1000 s: the drain (VMO_DRAIN_MS,
    // 2 s here) lets it run, then cancels it: it must end `canceled`, not stay `running`.
    const job = await app.client.submit({ command: `sleep ${sleepArg}`, target: { type: 'local' } });
    await app.client.waitForStatus(job.id, 'running', 30_000);
    const [sleepPid] = await waitFor('the job\'s sleep process', async () => (await processesMatching(sleepArg)).length > 0 && processesMatching(sleepArg), 30_000);
    app.recordTree();
    // The tree is what a user would expect: npm, and node itself as its child (no sh, no tsx).
    expect(app.childCommands()).toEqual([expect.stringMatching(/^node apps\/vmo\/dist\/main\.mjs$/)]);
    expect(app.seen).toContain(sleepPid);

    const stoppedAt = Date.now();
    process.kill(app.pid, 'SIGTERM'); // exactly the process a user signals: the one `npm start` is
    const exit = await app.exited(STOP_DEADLINE_MS);
    const stopMs = Date.now() - stoppedAt;
    process.stdout.write(`npm start: SIGTERM to exit ${stopMs} ms (drain ${DRAIN_MS} ms, then the job's stop)\n`);

    expect(exit).toEqual({ code: 0, signal: null });
    expect(app.output).toMatch(/vmo: SIGTERM received, shutting down/);
    await app.expectNothingLeft();
    expect(await app.jobs()).toEqual([{ id: job.id, status: 'canceled', errorCode: null }]);
  }, TEST_TIMEOUT_MS);

  it('Ctrl-C (SIGINT to the terminal\'s whole process group): one drain, not the forced exit; a running agent job finishes and is kept', async () => {
    const app = await NpmStart.begin();
    const go = join('/tmp', `vmo-sigint-${randomBytes(6).toString('hex')}`);
    markers.push(go);
    // On the built-in agent: it runs until the test creates `go`, which it does only once the
    // agent has begun to drain. The job's process group is its own, so the terminal's SIGINT does
    // not reach it; the agent lets it finish, and its output and end are stored before exit.
    const job = await app.client.submit({ command: `echo started; while [ ! -e '${go}' ]; do sleep 0.05; done; echo finished`, target: { type: 'agent', agent: 'local' } });
    // Its first line stored: the agent holds the job (`running` alone is the worker's start, and an
    // agent that begins to drain before a dispatch reaches it refuses it: see the report of issue 16).
    await waitFor('the job\'s first line', async () => (await app.client.logs(job.id)).toString() === 'started\n', 30_000);
    app.recordTree();

    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group, npm and
    // node alike; npm forwards its copy to node a moment later.
    process.kill(-app.pid, 'SIGINT');
    await app.waitForOutput(/letting running jobs finish/, STOP_DEADLINE_MS);
    writeFileSync(go, '');
    const exit = await app.exited(STOP_DEADLINE_MS);

    expect(exit).toEqual({ code: 0, signal: null });
    expect(app.output).toMatch(/"msg":"worker stopped"/); // drained, not the second-signal exit (130)
    await app.expectNothingLeft();
    expect(await app.jobs()).toContainEqual({ id: job.id, status: 'succeeded', errorCode: null });
    expect(await app.storedOutput(job.id)).toBe('started\nfinished\n');
  }, TEST_TIMEOUT_MS);
});

const DRAIN_MS = 2000;

/** One `npm start` as a user runs it, in a process group of its own (as a shell's job would be). */
class NpmStart {
  readonly child: ChildProcess;
  readonly client: ApiClient;
  /** Every pid of the tree seen while it ran (recordTree), and its command line then. */
  readonly commands = new Map<number, string>();
  private out = '';
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly port: number,
    readonly token: string,
  ) {
    registerSecret('VMO_ADMIN_TOKEN of npm start', token);
    this.child = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        npm_config_update_notifier: 'false', // no registry look-up in a test
        VMO_DATABASE_URL: db.url,
        VMO_REDIS_URL: process.env.VMO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
        VMO_REDIS_PREFIX: redis.prefix,
        VMO_PORT: String(port),
        VMO_HOST: '127.0.0.1',
        VMO_ADMIN_TOKEN: token,
        VMO_DRAIN_MS: String(DRAIN_MS),
      },
    });
    const log = createWriteStream(join(serviceLogDir(), `npm-start-${this.child.pid}-${Date.now()}.log`));
    log.on('error', () => {});
    const collect = (d: Buffer) => {
      log.write(d);
      this.out += d.toString();
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child.once('close', () => log.end());
    this.client = new ApiClient(`http://127.0.0.1:${port}`, token);
  }

  static async begin(): Promise<NpmStart> {
    const app = new NpmStart(await freePort(), `vmo_adm_test${randomBytes(16).toString('hex')}`);
    started.push(app);
    await app.waitForOutput(new RegExp(`vmo is running at http://127\\.0\\.0\\.1:${app.port} `), START_DEADLINE_MS);
    return app;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.out;
  }

  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<true> {
    return waitFor(`npm start to print ${pattern}; it printed:\n${this.out.slice(-3000)}`, () => {
      if (pattern.test(this.out)) return true;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`npm start exited; it printed:\n${this.out.slice(-3000)}`);
      return undefined;
    }, timeoutMs, 50);
  }

  /** Its exit, or a failure naming the processes still alive after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`npm start did not exit within ${timeoutMs} ms; alive: ${JSON.stringify(this.alive())}; it printed:\n${this.out.slice(-3000)}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exit, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Remember every process now under npm (its descendants, job processes included). */
  recordTree(): void {
    const children = childrenByParent();
    const walk = (pid: number): void => {
      this.commands.set(pid, commandLine(pid));
      for (const child of children.get(pid) ?? []) walk(child);
    };
    walk(this.pid);
  }

  get seen(): number[] {
    return [...this.commands.keys()];
  }

  /** The command lines of npm's direct children. */
  childCommands(): string[] {
    return (childrenByParent().get(this.pid) ?? []).map(commandLine);
  }

  /** Of the processes seen in the tree, those still alive, with their command lines. */
  alive(): string[] {
    return this.seen.filter(isAlive).map((pid) => `${pid} ${commandLine(pid)}`);
  }

  /** Nothing listens on the port, nothing of the tree lives, no process carries this test's prefix. */
  async expectNothingLeft(): Promise<void> {
    expect(await refused(this.port)).toBe(true);
    // The tree's processes exit before npm does (npm waits for node, node for the jobs); a moment
    // is allowed for the kernel to reap a process whose parent just exited.
    await waitFor('every process of the tree to be gone', () => this.alive().length === 0, 10_000).catch(() => {
      throw new Error(`still alive after npm start exited: ${JSON.stringify(this.alive())}`);
    });
    expect(processesWithEnv(`VMO_REDIS_PREFIX=${redis.prefix}`)).toEqual([]);
  }

  /** Every job of the database with its status, read from Postgres directly (the API is gone). */
  async jobs(): Promise<Array<{ id: string; status: string; errorCode: string | null }>> {
    const database = openDatabase(db.url, { max: 1 });
    try {
      const rows = await database.sql<Array<{ id: string; status: string; errorCode: string | null }>>`select id, status, error_code as "errorCode" from jobs order by created_at`;
      for (const row of rows) expect(TERMINAL_STATUSES).toContain(row.status);
      return rows.map((r) => ({ id: r.id, status: r.status, errorCode: r.errorCode }));
    } finally {
      await database.close();
    }
  }

  async storedOutput(jobId: string): Promise<string> {
    const database = openDatabase(db.url, { max: 1 });
    try {
      const rows = await database.sql<Array<{ data: Buffer }>>`select data from job_output where job_id = ${jobId} order by attempt, seq`;
      return Buffer.concat(rows.map((r) => r.data)).toString();
    } finally {
      await database.close();
    }
  }

  /** After a failure only: the whole group, at once. */
  killGroup(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) killQuietly(-this.pid, 'SIGKILL');
  }
}

/** Each live process's parent, read from /proc (pgrep cannot say "descendants of"). */
function childrenByParent(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so parse after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    map.set(ppid, [...(map.get(ppid) ?? []), Number(name)]);
  }
  return map;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '(gone)';
  }
}

/** Pids of the processes whose environment holds `entry` (a node re-parented to PID 1 would). */
function processesWithEnv(entry: string): string[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid).filter((name) => {
    try {
      return readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(entry);
    } catch {
      return false;
    }
  }).map((pid) => `${pid} ${commandLine(Number(pid))}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers: it has exited, its parent has not reaped it yet.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** True when a connection to the port is refused: nothing listens. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}
