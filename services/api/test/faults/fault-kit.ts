import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { expect } from 'vitest';
import { followJob, followJobToEnd, peakRssBytes, processesMatching, sha256, TcpProxy, TestSystem, waitFor, type ApiClient, type FollowResult, type ServiceProcess } from '@vmo/testkit';

export { sha256 };

/**
 * A scratch directory for one test's jobs: each job `tee`s what it writes to stdout into a file
 * here (the reference for "byte-identical"), and waits on flag files the test creates.
 */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'vmo-faults-'));

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Create the flag file `name` (jobs poll for it). */
  raise(name: string): void {
    writeFileSync(this.path(name), '');
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  size(name: string): number {
    return existsSync(this.path(name)) ? statSync(this.path(name)).size : 0;
  }

  /** Lines in `name` (a job appends one line per start: the "ran only once" check). */
  lines(name: string): string[] {
    return existsSync(this.path(name)) ? readFileSync(this.path(name), 'utf8').split('\n').filter(Boolean) : [];
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A command that writes binary output continuously (random bytes and a counter line, about
 * `bytesPerTick` every 20 ms) until the flag file `stop` exists, `tee`ing stdout into `out`. It
 * records each start in `runs`. `marker` ends up in the shell's command line, for pgrep.
 */
export function streamingCommand(scratch: Scratch, name: string, opts: { marker?: string; bytesPerTick?: number; tickSeconds?: string } = {}): string {
  const out = scratch.path(`${name}.out`);
  const stop = scratch.path(`${name}.stop`);
  const runs = scratch.path(`${name}.runs`);
  const marker = opts.marker ? `: ${opts.marker}; ` : '';
  return (
    `${marker}echo "$VMO_JOB_ID" >> '${runs}'; ` +
    `{ i=0; while [ ! -e '${stop}' ]; do i=$((i+1)); echo "tick $i"; head -c ${opts.bytesPerTick ?? 1500} /dev/urandom; sleep ${opts.tickSeconds ?? '0.02'}; done; echo end; } | tee '${out}'`
  );
}

/** Wait until `name`'s tee copy has grown past `bytes` (the job is producing output). */
export function waitForOutputFile(scratch: Scratch, name: string, bytes: number, timeoutMs = 30_000): Promise<number> {
  return waitFor(`${name}.out to pass ${bytes} bytes`, () => {
    const n = scratch.size(`${name}.out`);
    return n > bytes ? n : undefined;
  }, timeoutMs, 50);
}

/** The job's stored stdout equals, byte for byte, what its command wrote (the tee copy). */
export async function expectByteIdentical(client: ApiClient, jobId: string, reference: Buffer): Promise<Buffer> {
  const stored = await client.logs(jobId, '?stream=stdout');
  expect(stored.length).toBe(reference.length);
  expect(sha256(stored)).toBe(sha256(reference));
  return stored;
}

/** One connection to the test database (direct, never through a proxy); close it with `.end()`. */
export function openSql(url: string) {
  return postgres(url, { max: 2, onnotice: () => {} });
}

/** Chunks stored for a job: no seq twice (the primary key), dense from 0, and bytes counted once. */
export async function expectDenseOutput(sql: ReturnType<typeof openSql>, jobId: string): Promise<number> {
  const [agg] = await sql<{ n: number; max: number | null; bytes: number; counted: number }[]>`
    select count(*)::int as n, max(seq) as max, coalesce(sum(octet_length(data)), 0)::int as bytes,
      (select output_bytes from jobs where id = ${jobId})::int as counted
    from job_output where job_id = ${jobId}`;
  expect(agg!.max).toBe(agg!.n - 1);
  expect(agg!.counted).toBe(agg!.bytes);
  return agg!.n;
}

/** Kill whatever is left of a test's job processes (matched on a unique marker). */
export async function killLeftovers(marker: string): Promise<void> {
  for (const pid of await processesMatching(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

export function waitForNoProcess(marker: string, timeoutMs = 20_000): Promise<true> {
  return waitFor(`no process matching ${marker}`, async () => (await processesMatching(marker)).length === 0 || undefined, timeoutMs, 100);
}

export const MiB = 1024 * 1024;

/** The real Postgres's port (the target of a TcpProxy standing in for it). */
export const POSTGRES_PORT = Number(new URL(process.env.VMO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres').port || 5432);

/** The process has not ended: Node has not seen it exit, and /proc/<pid> is there and not a zombie. */
export function processIsAlive(p: ServiceProcess): boolean {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return false;
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${p.pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Peak RSS in MiB, rounded, for reports. */
export function peakRssMiB(pid: number): number {
  return Math.round(peakRssBytes(pid) / MiB);
}

/**
 * Follow a job's WebSocket stream; `opened` resolves on the first message (the server has
 * subscribed and begun the replay), so a test can break something knowing the subscriber is in.
 */
/**
 * A subscriber on a job's stream. With `resume`, it reconnects with `?after=` when the server
 * closes it 1012 or 4008, as a client should (followJobToEnd); without, it ends with that close.
 */
export function subscribe(
  baseUrl: string,
  token: string,
  jobId: string,
  after?: number,
  opts: { resume?: boolean } = {},
): { opened: Promise<void>; result: Promise<FollowResult & { interruptions?: number[] }> } {
  let opened!: () => void;
  const openedP = new Promise<void>((r) => (opened = r));
  const follow = opts.resume ? followJobToEnd : followJob;
  const result = follow(baseUrl, token, jobId, { ...(after === undefined ? {} : { after }), onMessage: () => opened() });
  result.catch(() => {}); // awaited by the test; a refusal must not also surface as unhandled
  return { opened: openedP, result };
}

/**
 * A control plane whose every Postgres connection goes through a proxy the test can cut or stall,
 * plus a direct connection for the test's own checks. `stop()` restores the proxy first.
 */
export async function startSystemBehindPostgresProxy(label: string, env: Record<string, string>) {
  const pgProxy = await TcpProxy.start(POSTGRES_PORT);
  const system = await TestSystem.start({ label, databasePort: pgProxy.port, env });
  const sql = openSql(system.databaseUrl);
  return {
    pgProxy,
    system,
    sql,
    async stop() {
      pgProxy.restore();
      await sql.end();
      await system.stop();
      await pgProxy.close();
    },
  };
}
