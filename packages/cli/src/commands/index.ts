import type { Command } from 'commander';
import { registerCancel } from './cancel.ts';
import { registerContext } from './context.ts';
import { registerLogin } from './login.ts';
import { registerLogs } from './logs.ts';
import { registerRun } from './run.ts';

/**
 * Every command, in the order `vmo --help` lists them. A new command is a file in this folder
 * exporting `register<Name>(program)`, added here.
 */
export function registerCommands(program: Command): void {
  registerRun(program);
  registerLogs(program);
  registerCancel(program);
  registerLogin(program);
  registerContext(program);
}
