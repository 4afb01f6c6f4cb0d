import { z } from 'zod';
import { intVar, secretVar } from '@vmo/shared/config';
import { DEFAULT_SSH_IDLE_MS } from '@vmo/shared/domain';
import { parseAllowedTargets } from './allowed-targets.ts';
import { parseKeyDirs } from './key-dirs.ts';

/** A string variable turned into a value by `parse`, whose thrown message names the expected form. */
const parsedVar = <T>(parse: (v: string) => T) =>
  z.string().transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

/**
 * The VMO_SSH_* variables, ONE definition of host trust, keys and targets for every process that
 * reaches SSH hosts: the worker (ssh jobs) and the API (host shells) spread it into their schemas,
 * so both read the same settings the same way (the passphrase's _FILE form included).
 */
export const sshEnv = {
  /** Trusted host keys for ssh jobs (OpenSSH format, hashed entries included); `~` is this process's home. */
  VMO_SSH_KNOWN_HOSTS: z.string().min(1, 'must be a path').default('~/.ssh/known_hosts'),
  /** Passphrase of encrypted identity files (never logged). */
  VMO_SSH_KEY_PASSPHRASE: secretVar(z.string().min(1, 'must not be empty when set').optional()),
  /** An SSH connection with no session open is closed after this long. */
  VMO_SSH_IDLE_MS: intVar(DEFAULT_SSH_IDLE_MS, 0, 24 * 3600_000),
  /** Sessions at once on one connection; keep below the hosts' sshd MaxSessions (default 10), a cancel needs one more. */
  VMO_SSH_MAX_CHANNELS: intVar(8, 1, 1000),
  /** TCP connect plus SSH handshake, per hop. */
  VMO_SSH_CONNECT_TIMEOUT_MS: intVar(20_000, 100, 600_000),
  /** Directories identity files may be read from (`:` or `,` separated, absolute); see read-identity-file.ts. */
  VMO_SSH_KEY_DIRS: parsedVar(parseKeyDirs).default(parseKeyDirs('~/.ssh')),
  /** CIDRs and host patterns SSH may connect to, for hosts and ProxyJump hops; unset allows all. See allowed-targets.ts. */
  VMO_SSH_ALLOWED_TARGETS: parsedVar(parseAllowedTargets).optional(),
};

const sshEnvSchema = z.object(sshEnv);
export type SshConfig = z.infer<typeof sshEnvSchema>;
