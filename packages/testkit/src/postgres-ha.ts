import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from './free-port.ts';

/**
 * A Postgres primary and a streaming standby of the test's own on loopback ports (issue 19):
 * `initdb`, `pg_basebackup -R`, `pg_ctl promote`, in a temporary directory removed by `stop()`.
 * Debian's binaries (/usr/lib/postgresql/<v>/bin); run as `postgres` when the test runs as root
 * (initdb refuses root). Asynchronous replication unless `synchronous` (then the primary waits
 * for the standby's flush before a commit returns).
 */
export class PostgresPair {
  private constructor(
    private readonly dir: string,
    readonly primaryPort: number,
    readonly standbyPort: number,
  ) {}

  static async start(opts: { synchronous?: boolean } = {}): Promise<PostgresPair> {
    const dir = mkdtempSync(join(tmpdir(), 'vmo-pg-ha-'));
    chmodSync(dir, 0o755);
    if (process.getuid?.() === 0) chownSync(dir, uid('postgres'), gid('postgres'));
    const pair = new PostgresPair(dir, await freePort(), await freePort());
    try {
      pg('initdb', ['-D', pair.data('primary'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
      pair.startServer('primary', pair.primaryPort, opts.synchronous ? ["synchronous_standby_names='*'"] : []);
      pg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(pair.primaryPort), '-U', 'postgres', '-D', pair.data('standby'), '-R', '-X', 'stream', '--no-sync']);
      pair.startServer('standby', pair.standbyPort);
      return pair;
    } catch (err) {
      await pair.stop();
      throw err;
    }
  }

  private data(name: string): string {
    return join(this.dir, name);
  }

  private startServer(name: 'primary' | 'standby', port: number, extra: string[] = []): void {
    const settings = [`port=${port}`, "listen_addresses='127.0.0.1'", `unix_socket_directories='${this.dir}'`, 'fsync=off', 'wal_level=replica', 'max_wal_senders=5', 'hot_standby=on', ...extra];
    pg('pg_ctl', ['-D', this.data(name), '-l', join(this.dir, `${name}.log`), '-w', '-t', '60', '-o', settings.map((s) => `-c ${s}`).join(' '), 'start']);
  }

  /** `postgres://postgres@127.0.0.1:<a>,127.0.0.1:<b>/<db>?target_session_attrs=read-write`, hosts in the order given. */
  url(database: string, order: ('primary' | 'standby')[] = ['primary', 'standby'], attrs = 'read-write'): string {
    const hosts = order.map((n) => `127.0.0.1:${n === 'primary' ? this.primaryPort : this.standbyPort}`).join(',');
    return `postgres://postgres@${hosts}/${database}${attrs ? `?target_session_attrs=${attrs}` : ''}`;
  }

  /** One server alone. */
  urlOf(name: 'primary' | 'standby', database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${name === 'primary' ? this.primaryPort : this.standbyPort}/${database}`;
  }

  /** The standby becomes a primary (`pg_ctl promote`, waits until it takes writes). */
  promote(): void {
    pg('pg_ctl', ['-D', this.data('standby'), '-w', '-t', '60', 'promote']);
  }

  /** The primary's postmaster killed -9 (its backends follow): a crash. */
  killPrimary(): void {
    const pidFile = join(this.data('primary'), 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /**
   * The primary's machine dies with the standby `lagMs` behind: its WAL sender stopped (SIGSTOP)
   * that long first, so what commits meanwhile never leaves the primary (a busy link or a distant
   * standby); then the postmaster and every process of it SIGKILLed at once, as a crash takes them
   * (killing only the postmaster would let a stopped sender send on). 0: loopback's lag (< 1 ms).
   * `inTheWindow` runs once the sender is stopped: what the system writes from then on is lost.
   */
  async crashPrimaryWithLag(lagMs: number, inTheWindow?: () => void): Promise<void> {
    const sql = postgres(this.urlOf('primary'), { max: 1, onnotice: () => {}, connect_timeout: 5 });
    let sender: { pid: number } | undefined;
    try {
      [sender] = await sql<{ pid: number }[]>`select pid from pg_stat_replication`;
    } finally {
      await sql.end({ timeout: 5 });
    }
    if (!sender) throw new Error('the primary has no WAL sender: is the standby streaming?');
    const postmaster = ppidOf(sender.pid);
    if (lagMs > 0) {
      process.kill(sender.pid, 'SIGSTOP');
      inTheWindow?.();
      await new Promise((r) => setTimeout(r, lagMs));
    } else {
      inTheWindow?.();
    }
    const children = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
      try {
        return ppidOf(pid) === postmaster;
      } catch {
        return false; // gone meanwhile
      }
    });
    for (const pid of [postmaster, ...children]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  async stop(): Promise<void> {
    for (const name of ['standby', 'primary']) {
      if (existsSync(join(this.data(name), 'postmaster.pid'))) {
        try {
          pg('pg_ctl', ['-D', this.data(name), '-m', 'immediate', '-w', 'stop']);
        } catch {
          // killed already: its backends go with the postmaster
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function binDir(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return join('/usr/lib/postgresql', versions[0]!, 'bin');
}

/** Run a Postgres binary, as `postgres` when we are root. */
function pg(binary: string, args: string[]): void {
  const path = join(binDir(), binary);
  const [cmd, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  execFileSync(cmd as string, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, cwd: '/' });
}

const ppidOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
const uid = (user: string) => Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
const gid = (user: string) => Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
