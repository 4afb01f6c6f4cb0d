import { homedir } from 'node:os';
import { z } from 'zod';
import type { Database } from '@vmo/shared/db';
import type { Logger } from '@vmo/shared/logger';
import { workerEnv, type WorkerConfig } from '../env.ts';
import { SshConnectionPool } from './connection-pool.ts';
import { openRoute, type SshSettings } from './open-route.ts';

const SSH_KEYS = ['VMO_SSH_KNOWN_HOSTS', 'VMO_SSH_KEY_PASSPHRASE', 'VMO_SSH_IDLE_MS', 'VMO_SSH_MAX_CHANNELS', 'VMO_SSH_CONNECT_TIMEOUT_MS', 'VMO_SSH_KEY_DIRS', 'VMO_SSH_ALLOWED_TARGETS'] as const;
export type SshConfig = Pick<WorkerConfig, (typeof SSH_KEYS)[number]>;

/** The pool, configured from the worker's environment (its VMO_SSH_* variables). */
export function createSshPool(config: SshConfig, database: Database, log: Logger): SshConnectionPool {
  const settings: SshSettings = {
    knownHostsFile: config.VMO_SSH_KNOWN_HOSTS.replace(/^~(?=\/|$)/, homedir()),
    sql: database.sql,
    keyPassphrase: config.VMO_SSH_KEY_PASSPHRASE,
    agentSocket: process.env.SSH_AUTH_SOCK || undefined,
    connectTimeoutMs: config.VMO_SSH_CONNECT_TIMEOUT_MS,
    keyDirs: config.VMO_SSH_KEY_DIRS,
    allowedTargets: config.VMO_SSH_ALLOWED_TARGETS ?? null,
    log,
  };
  return new SshConnectionPool({ idleMs: config.VMO_SSH_IDLE_MS, maxChannels: config.VMO_SSH_MAX_CHANNELS, open: (route, signal) => openRoute(route, settings, signal), log });
}

/**
 * The same pool for another process that reaches SSH hosts (the API node holding host shells,
 * services/api/src/shells/host-shells.ts): the worker's VMO_SSH_* variables, parsed by the
 * worker's own schema (one definition of host trust, keys and targets), from `env`.
 */
export function createSshPoolFromEnv(env: NodeJS.ProcessEnv, database: Database, log: Logger): SshConnectionPool {
  const schema = z.object(Object.fromEntries(SSH_KEYS.map((k) => [k, workerEnv.shape[k]])) as { [K in (typeof SSH_KEYS)[number]]: (typeof workerEnv.shape)[K] });
  return createSshPool(schema.parse(env) as SshConfig, database, log);
}
