import { homedir } from 'node:os';
import type { Database } from '@vmo/shared/db';
import type { Logger } from '@vmo/shared/logger';
import { SshConnectionPool } from './connection-pool.ts';
import { openRoute, type SshSettings } from './open-route.ts';
import type { SshConfig } from './ssh-env.ts';

/**
 * The pool, configured from a process's VMO_SSH_* variables (ssh-env.ts): the worker's for ssh
 * jobs, the API's for host shells (services/api/src/shells/host-shells.ts).
 */
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
