import type { Command } from 'commander';
import { registerAgents } from './agents.ts';
import { registerCancel } from './cancel.ts';
import { registerSavedCommands } from './commands.ts';
import { registerCompletion } from './completion.ts';
import { registerContext } from './context.ts';
import { registerHosts } from './hosts.ts';
import { registerJobs } from './jobs.ts';
import { registerLogin } from './login.ts';
import { registerLogs } from './logs.ts';
import { registerRun } from './run.ts';
import { registerProjects } from './projects.ts';
import { registerRuns } from './runs.ts';
import { registerSchedules } from './schedules.ts';
import { registerShell } from './shell.ts';
import { registerSessions } from './sessions.ts';
import { registerTargets } from './targets.ts';
import { registerTemplates } from './templates.ts';
import { registerWorkspaces } from './workspaces.ts';
import { registerOperations } from './operations.ts';
import { registerUsage } from './usage.ts';

/**
 * Every command, in the order `vmo --help` lists them. A new command is a file in this folder
 * exporting `register<Name>(program)`, added here.
 */
export function registerCommands(program: Command): void {
  registerRun(program);
  registerLogs(program);
  registerCancel(program);
  registerShell(program);
  registerSessions(program);
  registerJobs(program);
  registerRuns(program);
  registerSchedules(program);
  registerSavedCommands(program);
  registerAgents(program);
  registerHosts(program);
  registerProjects(program);
  registerWorkspaces(program);
  registerTemplates(program);
  registerOperations(program);
  registerUsage(program);
  registerTargets(program);
  registerLogin(program);
  registerContext(program);
  registerCompletion(program);
}
