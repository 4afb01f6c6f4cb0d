import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './wait-for.ts';
import { freePort } from './free-port.ts';

const run = promisify(execFile);
const SSHD = '/usr/sbin/sshd'; // sshd refuses to re-exec itself unless started by absolute path

export interface KeyPair {
  privatePath: string;
  /** `"<algorithm> <base64>"`, as pinned or written to known_hosts. */
  publicKey: string;
}

/** A fresh key pair from ssh-keygen (ed25519 unless told), optionally passphrase-protected. */
export async function generateKey(dir: string, name: string, opts: { type?: 'ed25519' | 'ecdsa' | 'rsa'; passphrase?: string } = {}): Promise<KeyPair> {
  const privatePath = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', opts.type ?? 'ed25519', '-N', opts.passphrase ?? '', '-C', name, '-f', privatePath]);
  const [algo, b64] = (await readFile(`${privatePath}.pub`, 'utf8')).trim().split(/\s+/);
  return { privatePath, publicKey: `${algo} ${b64}` };
}

export interface Sshd {
  port: number;
  dir: string;
  hostKey: KeyPair;
  /** Lines "Accepted publickey …" in sshd's log: one per authenticated connection. */
  acceptedConnections(): Promise<number>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Public keys allowed to log in (as root: the tests run as root). */
  authorizedKeys: string[];
  /** Reuse this port (a restart with another host key); otherwise an ephemeral one. */
  port?: number;
  hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa';
  extraConfig?: string[];
}

/**
 * A real OpenSSH sshd on a loopback port, with its own host key, authorized_keys, pid file and log
 * in a temp dir. `-D -e`: stays in the foreground, logs to stderr (captured to a file). Stop it
 * with stop(); sessions already open are not its children to kill: callers close their
 * connections first.
 */
export async function startSshd(opts: SshdOptions): Promise<Sshd> {
  await mkdir('/run/sshd', { recursive: true }); // privilege separation dir, required by sshd
  const dir = await mkdtemp(join(tmpdir(), 'vmo-sshd-'));
  const hostKey = await generateKey(dir, 'host_key', { type: opts.hostKeyType });
  await writeFile(join(dir, 'authorized_keys'), opts.authorizedKeys.map((k) => `${k}\n`).join(''), { mode: 0o600 });
  // Sessions get an empty HOME of their own. The tests log in as root, and sshd runs the command
  // with the login shell, which for bash reads ~/.bashrc: whatever the machine's /root/.bashrc prints
  // (a CI image's pyenv lines did) would land in every job's stderr. The initial cwd stays root's
  // home from passwd, as for any login; only $HOME (and so ~) points here.
  const home = join(dir, 'home');
  await mkdir(home);
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey.privatePath}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PermitRootLogin yes',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'AllowTcpForwarding yes',
      'MaxSessions 10',
      'MaxStartups 100',
      'LogLevel INFO',
      `SetEnv HOME=${home}`,
      ...(opts.extraConfig ?? []),
    ];
    await writeFile(join(dir, 'sshd_config'), config.join('\n') + '\n');
    const logPath = join(dir, `sshd-${attempt}.log`);
    const logFile = await open(logPath, 'w');
    const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', logFile.fd, logFile.fd] });
    await logFile.close();
    const readLog = () => readFile(logPath, 'utf8');
    const exited = once(child, 'exit').then(() => true);
    const started = await Promise.race([exited.then(() => false), waitFor('sshd to listen', async () => /Server listening on/.test(await readLog()), 20_000)]);
    if (!started) {
      const log = await readLog();
      if (/Address already in use|Bind to port/.test(log) && opts.port === undefined && attempt < 5) continue;
      throw new Error(`sshd did not start:\n${log}`);
    }
    return {
      port,
      dir,
      hostKey,
      log: readLog,
      async acceptedConnections() {
        return ((await readLog()).match(/Accepted publickey/g) ?? []).length;
      },
      async stop() {
        await stopChild(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  await gone;
}


/** A known_hosts line for the sshd; `hashed`: turned into a `|1|salt|hash` entry by `ssh-keygen -H` itself. */
export async function knownHostsLine(sshd: Sshd, opts: { hashed?: boolean; key?: string } = {}): Promise<string> {
  const line = `[127.0.0.1]:${sshd.port} ${opts.key ?? sshd.hostKey.publicKey}`;
  if (!opts.hashed) return line;
  const file = join(sshd.dir, `known_hosts_${Math.random().toString(36).slice(2)}`);
  await writeFile(file, line + '\n');
  await run('ssh-keygen', ['-q', '-H', '-f', file]);
  const hashed = (await readFile(file, 'utf8')).trim();
  if (!hashed.startsWith('|1|')) throw new Error(`ssh-keygen -H did not hash: ${hashed}`);
  return hashed;
}
