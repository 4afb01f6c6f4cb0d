import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';

/**
 * The user job commands run as (VMO_RUN_AS / `--run-as`), looked up once at start. Commands are
 * started through `setpriv` (util-linux): it sets the uid, the gid and the user's supplementary
 * groups (initgroups) and clears inheritable capabilities before running `/bin/sh -c`. Node's
 * own `uid`/`gid` spawn options cannot do this: libuv drops every supplementary group.
 */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  /** From the passwd entry: the job's HOME. */
  home: string;
  /** Where a job that names no cwd starts: HOME if it is a directory, else `/`. */
  cwd: string;
  /** Absolute path of setpriv; undefined when this process already is that user (nothing to switch). */
  setpriv: string | undefined;
}

export class RunAsError extends Error {
  override name = 'RunAsError';
}

const SETPRIV_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];
const CAP_KILL = 5n;

/** Look up `spec` (a user name or a numeric uid) and check that this process can run commands as it. */
export function resolveRunAs(spec: string): RunAsUser {
  const entry = passwdEntry(spec);
  if (!entry) throw new RunAsError(`no user ${JSON.stringify(spec)} on this machine (getent passwd ${spec} found nothing)`);
  const self = process.getuid?.();
  if (self === entry.uid) return { ...entry, setpriv: undefined };

  const setpriv = SETPRIV_DIRS.map((d) => `${d}/setpriv`).find((p) => existsSync(p));
  if (!setpriv) throw new RunAsError('setpriv was not found (install util-linux); it is what switches to the job user');
  const user = { ...entry, setpriv };
  try {
    execFileSync(setpriv, [...setprivArgs(user), '--', '/bin/sh', '-c', 'exit 0'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n')[0] || (err as Error).message;
    throw new RunAsError(`cannot run commands as ${entry.name} (uid ${entry.uid}): ${why}; the service must run as root, or with CAP_SETUID, CAP_SETGID and CAP_KILL`);
  }
  // A cancel signals the job's process group, which belongs to another user now.
  if (self !== 0 && !hasCapability(CAP_KILL)) {
    throw new RunAsError(`cannot stop commands of ${entry.name}: signalling another user's processes needs root or CAP_KILL`);
  }
  return user;
}

/** `setpriv` options that make the job `user`, with its groups and no inherited capabilities. */
export const setprivArgs = (user: Pick<RunAsUser, 'uid' | 'gid'>): string[] => [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--inh-caps=-all'];

type PasswdEntry = Omit<RunAsUser, 'setpriv'>;

function passwdEntry(spec: string): PasswdEntry | undefined {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\$?$/.test(spec)) return undefined;
  let line: string | undefined;
  try {
    // getent asks NSS (LDAP, sssd, systemd-homed …), not only /etc/passwd.
    line = execFileSync('getent', ['passwd', spec], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).split('\n')[0];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined; // exit 2: no such user
    line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => {
        const [name, , uid] = l.split(':');
        return name === spec || uid === spec;
      });
  }
  const f = line?.split(':');
  if (!f || f.length < 7) return undefined;
  const home = f[5] || '/';
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home, cwd: isDirectory(home) ? home : '/' };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function hasCapability(bit: bigint): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> bit) & 1n) === 1n;
  } catch {
    return false;
  }
}
