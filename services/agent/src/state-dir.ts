import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, fchmodSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tokenFile, type TokenSource } from './token-source.ts';

/** The agent's credential inside --state-dir. */
export const STATE_TOKEN_FILE = 'agent.token';
/** The enrolment nonce inside --state-dir, from before the first attempt until agent.token is kept. */
export const STATE_NONCE_FILE = 'enrol.nonce';
const NONCE_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

export class StateDirError extends Error {
  override name = 'StateDirError';
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/**
 * --state-dir DIR: where the agent keeps the credential it got by enrolment. Created 0700 if
 * missing. Refused when another user could put a token of their choosing there (writable by its
 * group or others, or owned by someone other than this user or root): the agent would then run
 * the jobs of whichever agent that token belongs to.
 */
export function openStateDir(dir: string): { dir: string; tokenPath: string; enrolled: boolean } {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StateDirError(`--state-dir: cannot create ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new StateDirError(`--state-dir: ${dir} is not a directory`);
  if ((stat.mode & 0o022) !== 0) {
    throw new StateDirError(`--state-dir: ${dir} is writable by users other than its owner (mode ${octal(stat.mode)}), who could replace the agent's token: chmod go-w ${dir} (0700 is best)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) {
    throw new StateDirError(`--state-dir: ${dir} belongs to uid ${stat.uid}, not to this agent's user (uid ${uid}) or root`);
  }
  const tokenPath = join(dir, STATE_TOKEN_FILE);
  return { dir, tokenPath, enrolled: existsSync(tokenPath) };
}

/** Before an enrolment uses up a use of the token: a directory we cannot write would lose the credential it answers. */
export function assertWritable(dir: string): void {
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new StateDirError(`--state-dir: cannot write ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * LOUD: the enrolment's answer is the only copy of the agent's token (the server keeps its hash).
 * Written to a file beside it, 0600 from its creation, flushed, renamed over, and the directory
 * flushed: after a crash the state is either no token (enrol again) or the whole one, never a
 * half-written or world-readable file.
 */
export function writeStateToken(tokenPath: string, token: string): void {
  writePrivateFile(tokenPath, token);
}

/** `line` and a newline into `path`, 0600, durably and atomically (writeStateToken). */
function writePrivateFile(path: string, line: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * The nonce this machine enrols with (PROTOCOL.md §8), made on first need and kept in
 * DIR/enrol.nonce (0600, durably) BEFORE the first attempt: a retry, by this process or by the
 * next one after a crash or a restart, sends the same, so an enrolment whose answer was lost is
 * answered again (the same agent, a new token) instead of a 409 on the machine's own name.
 * LOUD: written before anything is sent: a nonce that could be lost with the answer would save
 * nothing. Secret like a token: with the enrolment token it gets a not yet connected agent a
 * token, so a file others may read is refused, and its content is never quoted.
 */
export function enrolmentNonce(dir: string): string {
  const path = join(dir, STATE_NONCE_FILE);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StateDirError(`--state-dir: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    const nonce = randomBytes(32).toString('base64url');
    try {
      writePrivateFile(path, nonce);
    } catch (e) {
      throw new StateDirError(`--state-dir: cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return nonce;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new StateDirError(`--state-dir: ${path} is not a regular file`);
    if ((stat.mode & 0o077) !== 0) throw new StateDirError(`--state-dir: ${path} may be read or written by users other than its owner (mode ${octal(stat.mode)}): remove it, or chmod 600 ${path}`);
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const nonce = buf.subarray(0, n).toString('utf8').replace(/\r?\n$/, '');
    if (!NONCE_PATTERN.test(nonce)) throw new StateDirError(`--state-dir: ${path} does not hold an enrolment nonce: remove it (a new one is made)`);
    return nonce;
  } finally {
    closeSync(fd);
  }
}

/** Once agent.token is kept the nonce has done its work; removing it is best effort (a leftover is ignored once enrolled). */
export function forgetEnrolmentNonce(dir: string): void {
  try {
    rmSync(join(dir, STATE_NONCE_FILE), { force: true });
  } catch {
    // Harmless: an enrolled agent never reads it, and the server answers it only for an agent that never connected.
  }
}

/** The state dir's token, read at each connection (a rotated token is installed there); refused if others may read it. */
export const stateToken = (tokenPath: string): TokenSource => tokenFile(tokenPath, { private: true });
