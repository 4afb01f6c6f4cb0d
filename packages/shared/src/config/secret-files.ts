import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** A secret file larger than this is a mistake (a key file, a log): refuse it rather than read it. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

export class SecretFileError extends Error {
  override name = 'SecretFileError';
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
  }
}

/**
 * For each secret variable NAME, `NAME_FILE` names a file holding its value (Docker secrets in
 * /run/secrets, systemd credentials, a 0600 file). Returns a copy of `env` with NAME set from the
 * file, one trailing newline removed. Both forms set, or a file that cannot be read as a regular
 * file of at most 64 KiB, is an error naming the variable; the value itself is never shown.
 */
export function readSecretFiles(env: Record<string, string | undefined>, names: readonly string[]): Record<string, string | undefined> {
  const out = { ...env };
  for (const name of names) {
    const path = env[`${name}_FILE`];
    if (path === undefined) continue;
    if (env[name] !== undefined) throw new SecretFileError(`${name}_FILE`, `${name} and ${name}_FILE are both set; set only one`);
    if (path === '') throw new SecretFileError(`${name}_FILE`, 'must be the path of a file');
    out[name] = readSecretFile(`${name}_FILE`, path);
    delete out[`${name}_FILE`];
  }
  return out;
}

function readSecretFile(variable: string, path: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not hang the start; it is refused below as not a regular file.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new SecretFileError(variable, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SecretFileError(variable, `${path} is not a regular file`);
    if (stat.size > MAX_SECRET_FILE_BYTES) throw new SecretFileError(variable, `${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    const buf = Buffer.alloc(stat.size);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return buf.subarray(0, read).toString('utf8').replace(/\r?\n$/, '');
  } catch (err) {
    if (err instanceof SecretFileError) throw err;
    throw new SecretFileError(variable, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    closeSync(fd);
  }
}
