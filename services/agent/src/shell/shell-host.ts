import { createRequire } from 'node:module';
import type { RunAsUser } from '@vmo/shared/process';
import { ShellHolder, type ShellLink } from '@vmo/shared/shells';
import type { Logger } from '../logger.ts';
import { spawnPtyProcess } from './pty-session.ts';

type Spawn = typeof import('node-pty').spawn;

/**
 * node-pty, if this machine has it: a native module, not inlined in the bundled agent
 * (build-options.mjs keeps it external). Without it the agent does not announce `shell`
 * (SHELL.md §S5) and the API refuses shells on it with `shell_unsupported`.
 */
export function loadPtySpawn(log: Logger): Spawn | undefined {
  try {
    return (createRequire(import.meta.url)('node-pty') as typeof import('node-pty')).spawn;
  } catch (err) {
    log.info('no node-pty on this machine: shells are not offered', { error: (err as Error).message });
    return undefined;
  }
}

/** The agent's shell sessions (SHELL.md §S5): @vmo/shared's ShellHolder with node-pty terminals. */
export class ShellHost extends ShellHolder {
  constructor(spawn: Spawn, link: ShellLink, log: Logger, runAs?: RunAsUser) {
    super((open) => spawnPtyProcess(open, spawn, log, runAs), link, log);
  }
}
