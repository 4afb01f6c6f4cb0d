import * as api from '@vmo/shared/api';
import type { ApiRoute } from '@vmo/shared/api';
import { VmoResponseError } from './errors.ts';
import { follow, type FollowOptions, type StreamEnd } from './follow.ts';
import { followRun, type FollowRunOptions, type RunStreamEnd } from './follow-run.ts';
import { events, type EventsOptions } from './events.ts';
import { call, send, type HttpOptions, type RouteOutput, type RouteRequest, type RouteResult } from './http.ts';
import { streamOnce, type BrowserWebSocketClass, type StreamClose, type StreamOnceOptions } from './stream.ts';
import { openShell, type ShellConnection, type ShellOptions } from './shell.ts';

export interface VmoClientOptions {
  /** `http://127.0.0.1:3121`: the API node (or the load balancer in front of several). */
  baseUrl: string;
  /** A user token; `GET /health*` and the document need none. */
  token?: string | undefined;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** In a browser, `globalThis.WebSocket`: the stream then authenticates with subprotocols. In Node leave it out (`ws`, with the Authorization header). */
  WebSocket?: BrowserWebSocketClass;
  /** Check every 2xx JSON answer against its contract's schema (throws VmoResponseError). Off by default: a newer server may add fields. */
  validateResponses?: boolean;
}

type Body<R extends ApiRoute> = NonNullable<RouteRequest<R>['body']>;
type Query<R extends ApiRoute> = NonNullable<RouteRequest<R>['query']>;

/** GET /v1/jobs's query as written (the contract's output types are parsed forms: a selector, label pairs). */
export interface JobListQuery {
  status?: api.JobStatus | readonly api.JobStatus[];
  agent?: string;
  target?: string;
  label?: string | readonly string[];
  labels?: string;
  /** A run id: its children (newest first; `runs.jobs()` lists them in run order). */
  run?: string;
  /** A user id or name: the jobs they submitted (unknown: 422 `unknown_user`). */
  createdBy?: string;
  limit?: number;
  cursor?: string;
}

/** GET /v1/runs's query as written: statuses as one or a list. */
export interface RunListQuery {
  status?: api.RunStatus | readonly api.RunStatus[];
  limit?: number;
  cursor?: string;
}
/** GET /v1/runs/{id}/jobs's query as written. */
export interface RunJobsQuery {
  status?: api.JobStatus | readonly api.JobStatus[];
  limit?: number;
  cursor?: string;
}

/** A status list as the server reads it: comma-separated. */
const statuses = (s: string | readonly string[] | undefined) => (typeof s === 'string' ? s : s?.join(','));

/** The answer of `raw()`: nothing interpreted, for requests the typed methods would not send. */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The text parsed as JSON, or the text itself when it is not JSON. */
  body: any;
}

/**
 * The vmo API, typed from its contracts (@vmo/shared/api): requests are built from the same
 * schemas the server validates with, answers are typed by the schemas it answers with, and any
 * non-2xx answer throws a VmoApiError carrying the status and the error body's `code` and `message`.
 */
export class VmoClient {
  private readonly http: HttpOptions;

  constructor(private readonly options: VmoClientOptions) {
    this.http = { baseUrl: options.baseUrl, token: options.token, fetch: options.fetch ?? globalThis.fetch.bind(globalThis), validateResponses: options.validateResponses ?? false };
  }

  /** Any route of @vmo/shared/api, with its status and headers. */
  call<R extends ApiRoute>(route: R, req?: RouteRequest<R>): Promise<RouteResult<R>> {
    return call(this.http, route, req);
  }

  private async body<R extends ApiRoute>(route: R, req?: RouteRequest<R>): Promise<RouteOutput<R>> {
    return (await call(this.http, route, req)).body;
  }

  readonly jobs = {
    /** POST /v1/jobs; with `idempotencyKey`, a retry of the same body returns the same job. */
    submit: (job: Body<typeof api.submitJob>, opts: { idempotencyKey?: string; signal?: AbortSignal } = {}) =>
      this.body(api.submitJob, { body: job, headers: opts.idempotencyKey === undefined ? {} : { 'Idempotency-Key': opts.idempotencyKey }, ...(opts.signal ? { signal: opts.signal } : {}) }),
    /**
     * Filters combine: `status` one or several, `label` `k=v` strings (all must match), `labels` a
     * selector (`env=prod,role in (web,api)`), `agent`/`target` a name or id, `createdBy` a user's id or name.
     */
    list: (query: JobListQuery = {}) =>
      // Sent as the server reads it: statuses comma-separated, each label filter a repeated `label`.
      this.body(api.listJobs, { query: { ...query, status: statuses(query.status), label: typeof query.label === 'string' ? [query.label] : query.label } as never }),
    get: (id: string) => this.body(api.getJob, { params: { id } }),
    cancel: (id: string, body?: Body<typeof api.cancelJob>) => this.body(api.cancelJob, { params: { id }, ...(body ? { body } : {}) }),
    /** Every attempt of a retried job, oldest first (the last is the current one): status, exit code, error, times, output size. */
    attempts: (id: string) => this.body(api.jobAttempts, { params: { id } }),
    /** The stored output as the answer's bytes: by default (`format: 'raw'`) exactly what the command wrote, one stream or both as written. */
    logs: async (id: string, query: Query<typeof api.jobLogs> = {}): Promise<Uint8Array> => {
      const res = await send(this.http, api.jobLogs, { params: { id }, query });
      return new Uint8Array(await res.arrayBuffer());
    },
    /** The stored output as chunks (`format=ndjson`): seq, stream, base64 data, time stored. */
    logChunks: async (id: string, query: Omit<Query<typeof api.jobLogs>, 'format'> = {}): Promise<api.LogChunk[]> => {
      const res = await send(this.http, api.jobLogs, { params: { id }, query: { ...query, format: 'ndjson' } });
      const lines = (await res.text()).split('\n').filter((line) => line !== '');
      return lines.map((line) => this.checked(api.LogChunk, JSON.parse(line), 'GET /v1/jobs/{id}/logs?format=ndjson'));
    },
    /** Follow a job's output to its end, resuming as the README says (see follow()). */
    follow: (id: string, opts?: FollowOptions): Promise<StreamEnd> => this.follow(id, opts),
  };

  readonly runs = {
    /**
     * POST /v1/runs: `command` on every target `targets` names (a label `selector`, and/or `agents`
     * and `hosts` lists), with a rate-control `strategy`. With `idempotencyKey`, a retry of the same
     * body returns the same run.
     */
    submit: (run: Body<typeof api.submitRun>, opts: { idempotencyKey?: string; signal?: AbortSignal } = {}) =>
      this.body(api.submitRun, { body: run, headers: opts.idempotencyKey === undefined ? {} : { 'Idempotency-Key': opts.idempotencyKey }, ...(opts.signal ? { signal: opts.signal } : {}) }),
    /** Newest first; `status` one or several. */
    list: (query: RunListQuery = {}) => this.body(api.listRuns, { query: { ...query, status: statuses(query.status) } as never }),
    /** The run with its children counted by status and its progress. */
    get: (id: string) => this.body(api.getRun, { params: { id } }),
    /** Its children in run order (target, status, exit code, duration); `status` one or several. */
    jobs: (id: string, query: RunJobsQuery = {}) => this.body(api.listRunJobs, { params: { id }, query: { ...query, status: statuses(query.status) } as never }),
    /** No further child starts; queued ones end `canceled`, running ones are stopped (SIGTERM, SIGKILL after `graceMs`). */
    cancel: (id: string, body?: Body<typeof api.cancelRun>) => this.body(api.cancelRun, { params: { id }, ...(body ? { body } : {}) }),
    /** Children grouped by (status, exit code) and by identical output, largest first. */
    summary: (id: string) => this.body(api.runSummary, { params: { id } }),
    /** Follow a run live to its end (progress, every child's status and output), resuming by cursor (see followRun()). */
    follow: (id: string, opts?: FollowRunOptions): Promise<RunStreamEnd> => this.followRun(id, opts),
  };

  readonly schedules = {
    /**
     * POST /v1/schedules: `job` (a POST /v1/jobs body) or `run` (a POST /v1/runs body) on a cron
     * expression (`cron`, five fields or six with seconds) in `timezone` (IANA, default UTC); it
     * fires as you. `overlap`: skip (default), queue, cancel_previous; `catchUp`: none (default), latest.
     */
    create: (schedule: Body<typeof api.createSchedule>) => this.body(api.createSchedule, { body: schedule }),
    /** Yours (admins: all), newest first, each with its next ticks and last fire. */
    list: (query: Query<typeof api.listSchedules> = {}) => this.body(api.listSchedules, { query }),
    /** The schedule with its next five ticks and its last fires (each with its job's or run's status). */
    get: (id: string) => this.body(api.getSchedule, { params: { id } }),
    /** Any field; `{ paused: true }` pauses, `{ paused: false }` resumes from the next tick. */
    update: (id: string, patch: Body<typeof api.updateSchedule>) => this.body(api.updateSchedule, { params: { id }, body: patch }),
    pause: (id: string) => this.body(api.updateSchedule, { params: { id }, body: { paused: true } }),
    resume: (id: string) => this.body(api.updateSchedule, { params: { id }, body: { paused: false } }),
    delete: async (id: string): Promise<void> => void (await send(this.http, api.deleteSchedule, { params: { id } })),
    /** Fire it now (not a tick: the next tick still comes): the fire, with its `jobId` or `runId`. */
    trigger: (id: string) => this.body(api.triggerSchedule, { params: { id } }),
  };

  readonly commands = {
    /** POST /v1/commands: a named script with typed parameters (each reaches it as $VMO_PARAM_<NAME>), version 1. */
    create: (command: Body<typeof api.createCommand>) => this.body(api.createCommand, { body: command }),
    /** By name, each at its latest version. */
    list: (query: Query<typeof api.listCommands> = {}) => this.body(api.listCommands, { query }),
    get: (name: string) => this.body(api.getCommand, { params: { name } }),
    /** PUT: the whole next version (its owner or an admin). */
    update: (name: string, command: Body<typeof api.updateCommand>) => this.body(api.updateCommand, { params: { name }, body: command }),
    /** Not listed nor run any more; its versions stay readable. */
    delete: async (name: string): Promise<void> => void (await send(this.http, api.deleteCommand, { params: { name } })),
    /** Every version, newest first (a deleted command's too). */
    versions: (name: string, query: Query<typeof api.listCommandVersions> = {}) => this.body(api.listCommandVersions, { params: { name }, query }),
    /** Run it: `{kind: 'job', job}` (one target) or `{kind: 'run', run}` (targets, or a selector default). */
    run: (name: string, body: Body<typeof api.runCommand> = {}) => this.body(api.runCommand, { params: { name }, body }),
    /** The commands whose defaultTarget is this agent (by id or name). */
    forAgent: (id: string) => this.body(api.listAgentCommands, { params: { id } }),
    /** The commands whose defaultTarget is this host (by id, name or name@environment). */
    forHost: (id: string) => this.body(api.listHostCommands, { params: { id } }),
  };

  readonly templates = {
    /** POST /v1/templates (admins): version 1; `config` is checked against the provider's schema. */
    create: (template: Body<typeof api.createTemplate>) => this.body(api.createTemplate, { body: template }),
    list: () => this.body(api.listTemplates, {}),
    /** By id or name, at its current version. */
    get: (id: string) => this.body(api.getTemplate, { params: { id } }),
    /** Any field (admins): a new version; workspaces keep theirs until rebuilt. */
    update: (id: string, patch: Body<typeof api.updateTemplate>) => this.body(api.updateTemplate, { params: { id }, body: patch }),
    delete: async (id: string): Promise<void> => void (await send(this.http, api.deleteTemplate, { params: { id } })),
    /** Newest first. */
    versions: (id: string) => this.body(api.listTemplateVersions, { params: { id } }),
  };

  readonly workspaces = {
    /** POST /v1/workspaces: answered at once (202) with the workspace and its `create` operation. */
    create: (workspace: Body<typeof api.createWorkspace>) => this.body(api.createWorkspace, { body: workspace }),
    /** Yours (admins: all, or `owner`'s), newest first. */
    list: (query: Query<typeof api.listWorkspaces> = {}) => this.body(api.listWorkspaces, { query }),
    /** By id, or your own by name: status, health, agent, deadline, template version. */
    get: (id: string) => this.body(api.getWorkspace, { params: { id } }),
    update: (id: string, patch: Body<typeof api.updateWorkspace>) => this.body(api.updateWorkspace, { params: { id }, body: patch }),
    /** Each answers at once with its operation (409 `workspace_busy` while another is active, `invalid_transition` when the status does not allow it). */
    start: (id: string) => this.body(api.startWorkspace, { params: { id } }),
    stop: (id: string) => this.body(api.stopWorkspace, { params: { id } }),
    restart: (id: string) => this.body(api.restartWorkspace, { params: { id } }),
    rebuild: (id: string) => this.body(api.rebuildWorkspace, { params: { id } }),
    /** A `delete` operation; `{ orphan: true }` (admins): deleted at once without its provider (answers the workspace). */
    delete: (id: string, opts: { orphan?: boolean } = {}) => this.body(api.deleteWorkspace, { params: { id }, query: opts.orphan ? { orphan: 'true' } : {} }),
  };

  /** Scheduled sessions of a workspace (by id, or your own by name): started prepareLeadMs early, stopped at the end even in use. */
  readonly workspaceSessions = {
    /** 201; 409 `session_overlap` when its window (prepare lead to end) meets another's. */
    create: (workspace: string, session: Body<typeof api.createWorkspaceSession>) => this.body(api.createWorkspaceSession, { params: { id: workspace }, body: session }),
    /** Soonest first; `upcoming: 'true'`: not yet ended or canceled. */
    list: (workspace: string, query: Query<typeof api.listWorkspaceSessions> = {}) => this.body(api.listWorkspaceSessions, { params: { id: workspace }, query }),
    cancel: async (workspace: string, session: string): Promise<void> => void (await send(this.http, api.cancelWorkspaceSession, { params: { id: workspace, sid: session } })),
  };

  /** Snapshots of a workspace (by id, or your own by name): taken and restored by operations, on a stopped workspace. */
  readonly snapshots = {
    /** 202: the snapshot (`pending`, `ready` when its `snapshot` operation succeeds) and that operation. */
    create: (workspace: string, snapshot: Body<typeof api.createSnapshot>) => this.body(api.createSnapshot, { params: { id: workspace }, body: snapshot }),
    /** Newest first. */
    list: (workspace: string) => this.body(api.listSnapshots, { params: { id: workspace } }),
    get: (workspace: string, snapshot: string) => this.body(api.getSnapshot, { params: { id: workspace, sid: snapshot } }),
    delete: async (workspace: string, snapshot: string): Promise<void> => void (await send(this.http, api.deleteSnapshot, { params: { id: workspace, sid: snapshot } })),
    /**
     * 202: a `restore` operation into this (stopped) workspace (start it once that has succeeded); or,
     * with `into: {name}`, a new workspace built from the snapshot, with its create operation.
     */
    restore: (workspace: string, snapshot: string, into: 'this' | { name: string } = 'this') =>
      this.body(api.restoreSnapshot, { params: { id: workspace, sid: snapshot }, body: { into } }),
  };

  readonly usage = {
    /** GET /v1/usage: running seconds, job seconds, output bytes and cost per workspace in [from, to) (default: this month so far); `user`, `workspace` narrow it. */
    get: (query: Query<typeof api.getUsage> = {}) => this.body(api.getUsage, { query }),
    /** Admins: workspaces by status, top users and cost this month. */
    overview: () => this.body(api.getUsageOverview),
  };

  readonly operations = {
    /** Of your workspaces (admins: all), newest first; filters `workspace`, `type`, `status`. */
    list: (query: Query<typeof api.listOperations> = {}) => this.body(api.listOperations, { query }),
    /** Status, error, timings and its log lines. */
    get: (id: string) => this.body(api.getOperation, { params: { id } }),
    /** pending → canceled; running → canceling; ended: 409 `operation_ended`. */
    cancel: (id: string) => this.body(api.cancelOperation, { params: { id } }),
    /** Its log lines stored so far (NDJSON read whole; to follow live, GET …/logs?follow=true and read the lines as they come). */
    logs: async (id: string, query: { after?: number } = {}): Promise<api.OperationLogLine[]> => {
      const res = await send(this.http, api.operationLogs, { params: { id }, query });
      const lines = (await res.text()).split('\n').filter((line) => line !== '');
      return lines.map((line) => this.checked(api.OperationLogLine, JSON.parse(line), 'GET /v1/operations/{id}/logs'));
    },
    /**
     * GET …/logs?follow=true: each line as the worker writes it (from after `after`), until the
     * operation ends: resolves with its final status. One connection: if it drops first, this
     * rejects and the caller resumes with `after` = the last seq it got.
     */
    followLogs: async (id: string, opts: { after?: number; onLine(line: api.OperationLogLine): void; signal?: AbortSignal }): Promise<{ status: string }> => {
      const res = await send(this.http, api.operationLogs, { params: { id }, query: { follow: 'true', ...(opts.after !== undefined ? { after: opts.after } : {}) }, ...(opts.signal ? { signal: opts.signal } : {}) });
      if (!res.body) throw new Error('GET /v1/operations/{id}/logs: no body');
      const decoder = new TextDecoder();
      let pending = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        pending += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const text = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (text === '') continue;
          const parsed = JSON.parse(text) as { end?: { status: string } };
          if (parsed.end) return parsed.end;
          opts.onLine(this.checked(api.OperationLogLine, parsed, 'GET /v1/operations/{id}/logs'));
        }
      }
      throw new Error('the operation log stream ended before the operation did');
    },
  };

  readonly agents = {
    /** The answer carries the agent's token: shown once. */
    register: (agent: Body<typeof api.registerAgent>) => this.body(api.registerAgent, { body: agent }),
    list: (query: Query<typeof api.listAgents> = {}) => this.body(api.listAgents, { query }),
    /** By id or name. */
    get: (id: string) => this.body(api.getAgent, { params: { id } }),
    /** Its registered labels and/or maxConcurrentJobs (null: no limit). */
    update: (id: string, patch: Body<typeof api.updateAgent>) => this.body(api.updateAgent, { params: { id }, body: patch }),
    revoke: async (id: string): Promise<void> => void (await send(this.http, api.revokeAgent, { params: { id } })),
    /** A new token (shown once); the old one is refused at once and the agent's socket closed: install the new one in its token file. */
    rotateToken: (id: string) => this.body(api.rotateAgentToken, { params: { id } }),
  };

  readonly enrolmentTokens = {
    /** Admins: machines exchange it for agents of their own (`vmo-agent --enrol-file`). The answer carries the token: shown once. */
    create: (token: Body<typeof api.createEnrolmentToken>) => this.body(api.createEnrolmentToken, { body: token }),
    list: (query: Query<typeof api.listEnrolmentTokens> = {}) => this.body(api.listEnrolmentTokens, { query }),
    get: (id: string) => this.body(api.getEnrolmentToken, { params: { id } }),
    /** No agent is enrolled with it from now on; those it enrolled keep their tokens. */
    revoke: async (id: string): Promise<void> => void (await send(this.http, api.revokeEnrolmentToken, { params: { id } })),
  };

  readonly hosts = {
    create: (host: Body<typeof api.createHost>) => this.body(api.createHost, { body: host }),
    list: (query: Query<typeof api.listHosts> = {}) => this.body(api.listHosts, { query }),
    /** By id, name or name@environment. */
    get: (id: string) => this.body(api.getHost, { params: { id } }),
    update: (id: string, patch: Body<typeof api.updateHost>) => this.body(api.updateHost, { params: { id }, body: patch }),
    delete: async (id: string): Promise<void> => void (await send(this.http, api.deleteHost, { params: { id } })),
    /** Import an OpenSSH client config (`{ config: text, environment? }`). */
    import: (input: Body<typeof api.importHosts>) => this.body(api.importHosts, { body: input }),
  };

  readonly projects = {
    /** A directory with a Makefile on a machine (`target`: a job target), named by `alias`. */
    create: (project: Body<typeof api.createProject>) => this.body(api.createProject, { body: project }),
    list: (query: Query<typeof api.listProjects> = {}) => this.body(api.listProjects, { query }),
    get: (alias: string) => this.body(api.getProject, { params: { alias } }),
    /** Its `dir` or `listCommand`; either forgets the targets found. */
    update: (alias: string, patch: Body<typeof api.updateProject>) => this.body(api.updateProject, { params: { alias }, body: patch }),
    delete: async (alias: string): Promise<void> => void (await send(this.http, api.deleteProject, { params: { alias } })),
    /** An mkcli-style registry (`alias=directory` lines) for one machine. */
    import: (input: Body<typeof api.importProjects>) => this.body(api.importProjects, { body: input }),
    /** The cached targets, or a discovery job now (`refresh: true` forces one), waited for within `timeoutMs`. */
    targets: (alias: string, query: { refresh?: boolean; timeoutMs?: number } = {}) =>
      this.body(api.listProjectTargets, { params: { alias }, query: { ...(query.refresh !== undefined ? { refresh: String(query.refresh) } : {}), ...(query.timeoutMs !== undefined ? { timeoutMs: query.timeoutMs } : {}) } as never }),
    /** `make <target> NAME=value …` there, as a job (follow it with `follow(job.id)`). */
    run: (alias: string, target: string, body: Body<typeof api.runProjectTarget> = {}) => this.body(api.runProjectTarget, { params: { alias, target }, body }),
  };

  readonly sessions = {
    /** GET /v1/sessions: shell sessions, newest first (admins: everyone's; others: their own); `target` an agent's id or name, `user` a user's. */
    list: (query: Query<typeof api.listSessions> = {}) => this.body(api.listSessions, { query }),
    /** The recorded output bytes of a shell session, in order (what its clients rendered); `stream: 'input'`: what was typed (VMO_SHELL_RECORD_INPUT=true). */
    logs: async (id: string, query: Query<typeof api.sessionLogs> = {}): Promise<Uint8Array> => new Uint8Array(await (await send(this.http, api.sessionLogs, { params: { id }, query })).arrayBuffer()),
  };

  readonly users = {
    /** Admins: a local user (`{ name, role, email? }`). */
    create: (user: Body<typeof api.createUser>) => this.body(api.createUser, { body: user }),
    list: (query: Query<typeof api.listUsers> = {}) => this.body(api.listUsers, { query }),
    /** By id or name. */
    get: (id: string) => this.body(api.getUser, { params: { id } }),
    /** Role, email, name, or `disabled` (refused from the next request on). */
    update: (id: string, patch: Body<typeof api.updateUser>) => this.body(api.updateUser, { params: { id }, body: patch }),
    /** Who this client is: user, role and the scopes of its token. */
    me: () => this.body(api.getMe),
  };

  readonly tokens = {
    /** The answer carries the token (`vmo_usr_…`): shown once. `user` (admins) makes it for someone else. */
    create: (token: Body<typeof api.createToken>) => this.body(api.createToken, { body: token }),
    list: (query: Query<typeof api.listTokens> = {}) => this.body(api.listTokens, { query }),
    revoke: async (id: string): Promise<void> => void (await send(this.http, api.revokeToken, { params: { id } })),
  };

  readonly policies = {
    /** Admins: grant users (by id or name) and roles `read`, `run`, `cancel` on the agents and hosts a selector matches (`local: true`: the local target too). */
    create: (policy: Body<typeof api.createPolicy>) => this.body(api.createPolicy, { body: policy }),
    list: (query: Query<typeof api.listPolicies> = {}) => this.body(api.listPolicies, { query }),
    /** By id or name: withdrawn from the next request on. */
    delete: async (id: string): Promise<void> => void (await send(this.http, api.deletePolicy, { params: { id } })),
  };

  readonly targets = {
    /** What a label selector (`env=prod,role in (web,api)`) matches among agents and SSH hosts, without running anything. */
    preview: (query: { selector?: string; kinds?: readonly ('agent' | 'ssh')[]; limit?: number } = {}) =>
      // The query is sent as text (the selector as written, kinds comma-separated); the server parses it.
      this.body(api.previewTargets, { query: { ...query, kinds: query.kinds?.join(',') } as never }),
  };

  health = () => this.body(api.health);
  /** Throws VmoApiError 503 (`details` says which store is down) when not ready. */
  ready = () => this.body(api.ready);
  /** The OpenAPI 3.1 document the server serves. */
  openapi = () => this.body(api.openapiDocument);

  /** See follow() in follow.ts: replays, streams, resumes on 1012, 4008, 503; resolves with the end. */
  follow(jobId: string, opts?: FollowOptions): Promise<StreamEnd> {
    return follow(this.streamTarget, jobId, opts);
  }

  /** See followRun() in follow-run.ts: a run's progress, statuses and output to its end, resuming with the cursor. */
  followRun(runId: string, opts?: FollowRunOptions): Promise<RunStreamEnd> {
    return followRun(this.streamTarget, runId, opts);
  }

  /**
   * GET /v1/events, "something changed" (jobs, runs, agents, hosts), for pages that stay live:
   * reconnects with a backoff until `signal` aborts (see events() in events.ts).
   */
  events(opts: EventsOptions): Promise<void> {
    return events(this.streamTarget, opts);
  }

  /** One connection to the job's stream, without resuming: resolves with its close. */
  streamOnce(jobId: string, opts: StreamOnceOptions): Promise<StreamClose> {
    return streamOnce(this.streamTarget, jobId, opts);
  }

  /**
   * An interactive shell on an agent (GET /v1/agents/{id}/shell; `host` instead: an SSH host, /v1/hosts/{id}/shell; `workspace`: a workspace's agent, /v1/workspaces/{id}/shell): terminal bytes both ways,
   * reconnecting by session and offset after a dropped connection (see openShell() in shell.ts).
   */
  shell(opts: ShellOptions): ShellConnection {
    return openShell(this.streamTarget, opts);
  }

  /** Send anything (a malformed body, an unknown path): the answer as it is, never thrown. */
  async raw(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<RawResponse> {
    const headers: Record<string, string> = {};
    if (this.http.token) headers.authorization = `Bearer ${this.http.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.http.fetch(this.http.baseUrl.replace(/\/+$/, '') + path, {
      method,
      headers: { ...headers, ...opts.headers },
      ...(opts.body === undefined ? {} : { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (raw logs): the text
    }
    return { status: res.status, headers: res.headers, text, body };
  }

  private get streamTarget() {
    return { baseUrl: this.options.baseUrl, token: this.options.token, WebSocket: this.options.WebSocket };
  }

  private checked<T>(schema: { safeParse(v: unknown): { success: boolean; data?: T; error?: { message: string } } }, value: unknown, route: string): T {
    if (!this.http.validateResponses) return value as T;
    const r = schema.safeParse(value);
    if (!r.success) throw new VmoResponseError(route, r.error!.message);
    return r.data as T;
  }
}

export const createClient = (options: VmoClientOptions) => new VmoClient(options);
