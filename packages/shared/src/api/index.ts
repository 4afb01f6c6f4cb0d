/**
 * The API's contracts: every route as data (zod schemas for what it takes and answers). Imported
 * by the API (validation and the OpenAPI document) and by clients (packages/client); it imports no
 * server code.
 */
import * as agents from './agents.ts';
import * as agentInstall from './agent-install.ts';
import * as audit from './audit.ts';
import * as sessions from './sessions.ts';
import * as shell from './shell.ts';
import * as document from './document.ts';
import * as events from './events.ts';
import * as enrolment from './enrolment-tokens.ts';
import * as health from './health.ts';
import * as hosts from './hosts.ts';
import * as jobs from './jobs.ts';
import * as metrics from './metrics.ts';
import * as runStream from './run-stream.ts';
import * as streams from './streams.ts';
import * as targets from './targets.ts';
import * as runs from './runs.ts';
import * as tokens from './tokens.ts';
import * as users from './users.ts';
import * as policies from './policies.ts';
import * as schedules from './schedules.ts';
import * as projects from './projects.ts';
import * as commands from './commands.ts';
import * as templates from './templates.ts';
import * as workspaces from './workspaces.ts';
import * as operations from './operations.ts';
import * as usage from './usage.ts';
import * as snapshots from './snapshots.ts';
import * as workspaceSessions from './workspace-sessions.ts';

export * from './route.ts';
export * from './errors.ts';
export * from './jobs.ts';
export * from './agents.ts';
export * from './agent-install.ts';
export * from './hosts.ts';
export * from './health.ts';
export * from './document.ts';
export * from './streams.ts';
export * from './targets.ts';
export * from './label-selector-param.ts';
export * from './run-stream.ts';
export * from './events.ts';
export * from './runs.ts';
export * from './policies.ts';
export * from './audit.ts';
export * from './sessions.ts';
export * from './shell.ts';
export * from './enrolment-tokens.ts';
export * from './users.ts';
export * from './tokens.ts';
export * from './metrics.ts';
export * from './schedules.ts';
export * from './projects.ts';
export * from './commands.ts';
export * from './templates.ts';
export * from './workspaces.ts';
export * from './operations.ts';
export * from './usage.ts';
export * from './snapshots.ts';
export * from './workspace-sessions.ts';

/** The REST routes, served by the Hono app. */
export const REST_ROUTES = [
  jobs.submitJob,
  jobs.listJobs,
  jobs.getJob,
  jobs.cancelJob,
  jobs.jobLogs,
  jobs.jobAttempts,
  agents.registerAgent,
  agents.listAgents,
  agents.getAgent,
  agents.updateAgent,
  agents.revokeAgent,
  agents.rotateAgentToken,
  enrolment.createEnrolmentToken,
  enrolment.listEnrolmentTokens,
  enrolment.getEnrolmentToken,
  enrolment.revokeEnrolmentToken,
  enrolment.enrolAgent,
  agentInstall.downloadAgent,
  agentInstall.agentInstallScript,
  agentInstall.agentWhoami,
  hosts.createHost,
  hosts.listHosts,
  hosts.importHosts,
  hosts.getHost,
  hosts.updateHost,
  hosts.deleteHost,
  targets.previewTargets,
  runs.submitRun,
  runs.listRuns,
  runs.getRun,
  runs.listRunJobs,
  runs.cancelRun,
  runs.runSummary,
  schedules.createSchedule,
  schedules.listSchedules,
  schedules.getSchedule,
  schedules.updateSchedule,
  schedules.deleteSchedule,
  schedules.triggerSchedule,
  projects.createProject,
  projects.listProjects,
  projects.importProjects,
  projects.getProject,
  projects.updateProject,
  projects.deleteProject,
  projects.listProjectTargets,
  projects.runProjectTarget,
  commands.createCommand,
  commands.listCommands,
  commands.getCommand,
  commands.updateCommand,
  commands.deleteCommand,
  commands.listCommandVersions,
  commands.runCommand,
  commands.listAgentCommands,
  commands.listHostCommands,
  usage.getUsage,
  usage.getUsageOverview,
  snapshots.createSnapshot,
  snapshots.listSnapshots,
  snapshots.getSnapshot,
  snapshots.deleteSnapshot,
  snapshots.restoreSnapshot,
  workspaceSessions.createWorkspaceSession,
  workspaceSessions.listWorkspaceSessions,
  workspaceSessions.cancelWorkspaceSession,
  templates.createTemplate,
  templates.listTemplates,
  templates.getTemplate,
  templates.listTemplateVersions,
  templates.updateTemplate,
  templates.deleteTemplate,
  workspaces.createWorkspace,
  workspaces.listWorkspaces,
  workspaces.getWorkspace,
  workspaces.updateWorkspace,
  workspaces.startWorkspace,
  workspaces.stopWorkspace,
  workspaces.restartWorkspace,
  workspaces.rebuildWorkspace,
  workspaces.deleteWorkspace,
  operations.listOperations,
  operations.getOperation,
  operations.cancelOperation,
  operations.operationLogs,
  policies.createPolicy,
  policies.listPolicies,
  policies.deletePolicy,
  audit.listAudit,
  sessions.listSessions,
  sessions.sessionLogs,
  users.createUser,
  users.listUsers,
  users.getUser,
  users.updateUser,
  users.getMe,
  tokens.createToken,
  tokens.listTokens,
  tokens.revokeToken,
  health.health,
  health.ready,
  document.openapiDocument,
  document.docsPage,
  metrics.getMetrics,
] as const;

/** The WebSocket endpoints, served by the HTTP server beside the app. */
export const WEBSOCKET_ROUTES = [streams.streamJob, runStream.streamRun, events.streamEvents, streams.agentConnect, shell.agentShell, shell.hostShell, shell.workspaceShell] as const;
