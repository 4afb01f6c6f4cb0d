import { accessSync, closeSync, constants, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tokenFile, type TokenSource } from './token-source.ts';

/** The agent's credential inside --state-dir. */
export const STATE_TOKEN_FILE = 'agent.token';

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
  const tmp = `${tokenPath}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, `${token}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, tokenPath);
  const dirFd = openSync(join(tokenPath, '..'), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** The state dir's token, read at each connection (a rotated token is installed there); refused if others may read it. */
export const stateToken = (tokenPath: string): TokenSource => tokenFile(tokenPath, { private: true });
