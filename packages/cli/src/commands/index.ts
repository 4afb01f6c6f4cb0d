import type { Command } from 'commander';

/**
 * Every command, in the order `vmo --help` lists them. A new command is a file in this folder
 * exporting `register<Name>(program)`, added here.
 */
export function registerCommands(program: Command): void {
  void program;
}
