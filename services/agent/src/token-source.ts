import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** What an agent token looks like; anything else in a token file is "no token yet". */
export const AGENT_TOKEN_PATTERN = /^vmo_agt_[A-Za-z0-9_\-.~+/]+=*$/;
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * Where the agent's token comes from, read again at every connection attempt: a token rotated by
 * the control plane (POST /v1/agents/{id}/rotate-token) is installed in the file by an operator,
 * and the running agent picks it up without a restart (connection.ts waits for it after a 4410).
 */
export interface TokenSource {
  /** The token to connect with now, or the reason there is none (the file is missing, unreadable, or holds no agent token). */
  read(): { token: string } | { problem: string };
  /** The file a new token is installed in; absent for a token given as such (--token, VMO_AGENT_TOKEN), which cannot change. */
  readonly file?: string;
}

export const fixedToken = (token: string): TokenSource => ({ read: () => ({ token }) });

/**
 * A token file (--token-file, or <state-dir>/agent.token). `private: true` (the state dir, which
 * the agent writes itself) also refuses a file others may read or write: such a token may have
 * leaked, and an agent that goes on using it says nothing about it.
 */
export function tokenFile(path: string, opts: { private?: boolean } = {}): TokenSource {
  return {
    file: path,
    read() {
      let fd: number;
      try {
        // O_NONBLOCK: a FIFO must not hang the agent; it is refused below as not a regular file.
        fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch (err) {
        return { problem: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
      }
      try {
        const stat = fstatSync(fd);
        if (!stat.isFile()) return { problem: `${path} is not a regular file` };
        if (stat.size > MAX_TOKEN_FILE_BYTES) return { problem: `${path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes` };
        if (opts.private && (stat.mode & 0o077) !== 0) {
          return { problem: `${path} may be read or written by users other than its owner (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 ${path}` };
        }
        const buf = Buffer.alloc(stat.size);
        let read = 0;
        while (read < buf.length) {
          const n = readSync(fd, buf, read, buf.length - read, read);
          if (n === 0) break;
          read += n;
        }
        const token = buf.subarray(0, read).toString('utf8').replace(/\r?\n$/, '');
        // LOUD: never quote the file's content: it may be the real token with a typo.
        if (!AGENT_TOKEN_PATTERN.test(token)) return { problem: `${path} does not hold an agent token (vmo_agt_…)` };
        return { token };
      } catch (err) {
        return { problem: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
      } finally {
        closeSync(fd);
      }
    },
  };
}
