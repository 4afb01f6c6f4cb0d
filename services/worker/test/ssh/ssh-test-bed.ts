import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { hosts, jobs, openDatabase, type Database } from '@vmo/shared/db';
import { createHost, type HostInput } from '@vmo/shared/hosts';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { JobRow } from '@vmo/shared/jobs';
import { readOutput } from '@vmo/shared/jobs';
import { LogSink } from '@vmo/shared/logsink';
import { createRedis, keys } from '@vmo/shared/redis';
import { newId } from '@vmo/shared/ids';
import { createTestDatabase, createTestPrefix, generateKey, TEST_REDIS_URL, type KeyPair, type TestDatabase } from '@vmo/testkit';
import type { ExecutionResult, StopRequest } from '../../src/executors/executor.ts';
import { sshExecutor } from '../../src/executors/ssh.ts';
import { openRoute, SshConnectionPool, type SshSettings } from '@vmo/ssh';

export interface JobRun {
  job: JobRow;
  result: ExecutionResult;
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * What an SSH executor test needs: its own migrated database, a real LogSink on a Redis prefix of
 * its own, a user key, a known_hosts file, and a way to run a job row through the executor and
 * read back exactly what was stored.
 */
export class SshTestBed {
  readonly log = pino({ level: process.env.VMO_TEST_LOG ?? 'silent' });
  private constructor(
    readonly testDb: TestDatabase,
    readonly database: Database,
    readonly sink: LogSink,
    private readonly redis: ReturnType<typeof createRedis>,
    private readonly prefix: ReturnType<typeof createTestPrefix>,
    readonly dir: string,
    readonly userKey: KeyPair,
    readonly knownHostsFile: string,
  ) {}

  static async create(label: string): Promise<SshTestBed> {
    const testDb = await createTestDatabase(`test_${label}`);
    const database = openDatabase(testDb.url, { max: 4 });
    const prefix = createTestPrefix(label);
    const redis = createRedis(TEST_REDIS_URL);
    const k = keys(prefix.prefix);
    const log = pino({ level: 'silent' });
    const sink = new LogSink({ sql: database.sql, bus: { redis, keys: k }, log });
    const dir = await mkdtemp(join(tmpdir(), `vmo-${label}-`));
    const userKey = await generateKey(dir, 'user_key');
    const knownHostsFile = join(dir, 'known_hosts');
    await writeFile(knownHostsFile, '');
    return new SshTestBed(testDb, database, sink, redis, prefix, dir, userKey, knownHostsFile);
  }

  settings(over: Partial<SshSettings> = {}): SshSettings {
    return { knownHostsFile: this.knownHostsFile, sql: this.database.sql, connectTimeoutMs: 10_000, keyDirs: [this.dir], allowedTargets: null, log: this.log, ...over };
  }

  pool(over: { settings?: Partial<SshSettings>; idleMs?: number; maxChannels?: number } = {}): SshConnectionPool {
    const settings = this.settings(over.settings);
    return new SshConnectionPool({ idleMs: over.idleMs ?? 60_000, maxChannels: over.maxChannels ?? 8, open: (r, signal) => openRoute(r, settings, signal), log: this.log });
  }

  /** Enough of a control plane for the host service functions. */
  get cp(): ControlPlane {
    return { database: this.database, log: this.log } as unknown as ControlPlane;
  }

  async addHost(input: Partial<HostInput> & { port: number }) {
    return createHost(this.cp, {
      name: `h-${newId('host').slice(5, 13)}`,
      environment: 'default',
      host: '127.0.0.1',
      user: 'root',
      description: '',
      labels: {},
      identityFile: this.userKey.privatePath,
      proxyJump: null,
      hostKeyPolicy: 'strict',
      pinnedHostKeys: [],
      ...input,
    });
  }

  async trustInKnownHosts(...lines: string[]): Promise<void> {
    await writeFile(this.knownHostsFile, lines.map((l) => `${l}\n`).join(''));
  }

  async hostRow(id: string) {
    const [row] = await this.database.db.select().from(hosts).where(eq(hosts.id, id));
    return row!;
  }

  /**
   * Insert a running job for the host, run it through the executor, and read back its output.
   * `stop`: aborted by the caller to cancel.
   */
  async runJob(
    pool: SshConnectionPool,
    hostId: string,
    command: string,
    opts: { env?: Record<string, string>; cwd?: string; stop?: AbortSignal; limits?: { maxOutputBytes: number; tailBytes: number }; onStarted?: (job: JobRow) => void } = {},
  ): Promise<JobRun> {
    const [job] = await this.database.db
      .insert(jobs)
      .values({ id: newId('job'), status: 'running', command, target: { type: 'ssh', host: hostId }, hostId, env: opts.env ?? {}, cwd: opts.cwd ?? null, timeoutMs: 600_000, attempt: 1, startedAt: new Date() })
      .returning();
    opts.onStarted?.(job!);
    const executor = sshExecutor({ database: this.database, pool, log: this.log });
    const result = await executor.run({
      job: job!,
      stop: opts.stop ?? new AbortController().signal,
      detach: new AbortController().signal,
      sink: this.sink,
      limits: opts.limits ?? { maxOutputBytes: 64 * 1024 * 1024, tailBytes: 1024 * 1024 },
      fresh: true,
      cancelChecked: Promise.resolve(),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for await (const page of readOutput(this.database.sql, job!.id, { afterSeq: -1 })) {
      for (const chunk of page) (chunk.stream === 1 ? out : err).push(chunk.data);
    }
    return { job: job!, result, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
  }

  async close(): Promise<void> {
    await this.sink.close();
    this.redis.disconnect();
    await this.database.close();
    await this.testDb.drop();
    await this.prefix.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export const cancel = (controller: AbortController, graceMs = 1000) => controller.abort({ reason: 'canceled', graceMs } satisfies StopRequest);
