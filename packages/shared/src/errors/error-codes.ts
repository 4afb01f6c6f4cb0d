/**
 * Every error code vmo gives out, in two tables: the `code` of an HTTP error body
 * (`{"error":{"code","message","details"?}}`) with the status it always comes with, and the `code`
 * of a job's `error` (why a job ended `failed` or `lost` without its command deciding). Clients
 * branch on these codes, so they are stable: a code is added here or not used. `AppError` only
 * takes a code from HTTP_ERRORS, with its own status; the OpenAPI document enumerates them; a test
 * (error-codes.test.ts) finds every code written into a job's `error` in the sources and checks it
 * is listed in JOB_ERRORS.
 */

export type HttpErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 429 | 500 | 503;

export const HTTP_ERRORS = {
  validation_failed: { status: 400, meaning: 'a field of the body, the query, a header or the path is invalid; the message starts with the field and details.field names it' },
  invalid_param: { status: 400, meaning: "a saved command's run (or a new workspace, against its template's parameters) names a parameter it does not declare, leaves out a required one, or gives one a value its declaration refuses (type, pattern, enum values, range, length); details.param names the parameter and details.field is `params.<name>`" },
  invalid_json: { status: 400, meaning: 'the body is not a JSON object (or not JSON at all)' },
  bad_request: { status: 400, meaning: 'the request could not be read as HTTP the API understands' },
  protocol_required: { status: 400, meaning: 'a job-stream upgrade offered "bearer.<token>" without the "vmo.v1" subprotocol' },
  invalid_ssh_config: { status: 400, meaning: 'the imported OpenSSH config is one ssh itself would refuse; details.line names the line' },
  invalid_inventory: { status: 400, meaning: 'an imported Ansible inventory or vm-config file is one Ansible (or the vm-config format) would refuse: bad syntax, a structure of the wrong type, an undefined group, a group loop, an unknown YAML tag; details.field names the field (`inventory`, `files.<path>`) and details.line the line' },
  unauthorized: { status: 401, meaning: 'no token, a malformed one, or one that is unknown, revoked or expired, or whose user is disabled (the answer does not say which); a user header from an address that is not a trusted proxy counts for nothing' },
  forbidden: { status: 403, meaning: 'the caller may not do this: the role or the token\'s scopes lack the scope the message names (details.scope), or the token is of the wrong kind for this endpoint (an agent token on the user API, or the reverse), or the request comes from a web page whose Origin is not allowed (VMO_ALLOWED_ORIGINS)' },
  target_forbidden: { status: 403, meaning: 'no policy grants the caller the action (details.action: run or cancel) on the targets named in details.targets (the first few; details.total counts them all); an admin grants it with POST /v1/policies' },
  not_found: { status: 404, meaning: 'no such job, run, agent, host, policy or route, or one the policies do not let the caller see (the same answer: an id reveals nothing)' },
  job_ended: { status: 409, meaning: 'the job has already ended: nothing to cancel' },
  run_ended: { status: 409, meaning: 'the run has already ended: nothing to cancel' },
  name_taken: { status: 409, meaning: 'an agent of that name exists' },
  host_exists: { status: 409, meaning: 'a host of that name exists in that environment' },
  policy_exists: { status: 409, meaning: 'a policy of that name exists' },
  user_exists: { status: 409, meaning: 'a user of that name exists' },
  schedule_exists: { status: 409, meaning: 'the caller already has a schedule of that name' },
  project_exists: { status: 409, meaning: 'a project of that alias exists (aliases are unique across the control plane)' },
  agent_not_connected: { status: 409, meaning: 'a shell needs its agent connected now (GET /v1/agents/{id}/shell): it is offline' },
  template_exists: { status: 409, meaning: 'a live template of that name exists: change it with PATCH /v1/templates/{id} (a new version)' },
  workspace_exists: { status: 409, meaning: 'the caller already has a live workspace of that name' },
  workspace_busy: { status: 409, meaning: 'the workspace has an operation pending or running: wait for it (GET /v1/operations/{id}) or cancel it' },
  invalid_transition: { status: 409, meaning: "the workspace's status does not allow that action now (e.g. a snapshot of a running workspace, a start of a running one)" },
  snapshot_unsupported: { status: 409, meaning: "the workspace's provider cannot take or restore snapshots" },
  snapshot_exists: { status: 409, meaning: 'the workspace already has a snapshot of that name' },
  operation_ended: { status: 409, meaning: 'the operation has already ended: nothing to cancel' },
  session_overlap: { status: 409, meaning: 'the workspace already has a scheduled session overlapping that time (its start lead to its end)' },
  command_exists: { status: 409, meaning: 'a saved command of that name exists: change it with PUT /v1/commands/{name}' },
  output_expired: { status: 410, meaning: "the job's output was deleted by retention (VMO_OUTPUT_RETENTION_DAYS, or the job's retainDays); the job itself is kept, shown with outputExpired: true" },
  payload_too_large: { status: 413, meaning: 'the body is over 1 MiB' },
  ssh_config_too_large: { status: 413, meaning: 'the imported config is over the import limits (lines, hosts, evaluation work)' },
  inventory_too_large: { status: 413, meaning: 'the imported inventory is over the import limits (bytes, files, YAML nesting or alias expansion, hosts after range expansion, group memberships)' },
  unknown_agent: { status: 422, meaning: 'the job targets an agent that does not exist or was revoked' },
  unknown_workspace: { status: 422, meaning: 'the job targets a workspace that does not exist, is deleted, or is not the caller\'s (the same answer)' },
  unknown_host: { status: 422, meaning: 'the job targets a host that is not in the inventory' },
  unknown_target: { status: 422, meaning: 'a job filter names a target that is neither an agent (revoked ones included only by id) nor an inventory host' },
  ambiguous_host: { status: 422, meaning: 'the host name exists in several environments: name one as name@environment' },
  unknown_run: { status: 422, meaning: 'a job filter names a run that does not exist' },
  unknown_user: { status: 422, meaning: 'the `user` of a token (or a ?user= filter), or an entry of a policy\'s subjects.users (details.field names it), names no user, by id or name' },
  no_targets: { status: 422, meaning: "the run's selector and lists match no live agent or inventory host" },
  too_many_targets: { status: 422, meaning: 'the run matches more targets than VMO_MAX_RUN_TARGETS' },
  invalid_strategy: { status: 422, meaning: "the run's strategy does not fit its targets (a canary larger than the target set); details.field names the field" },
  idempotency_key_reused: { status: 422, meaning: 'this Idempotency-Key was used with a different body' },
  discovery_failed: { status: 422, meaning: "a project's targets could not be discovered: details.cause says why (dir_missing, no_makefile, no_make, not_gnu_make, make_failed, list_command_failed, agent_offline, timeout, job_failed, output_incomplete) and details.jobId names the discovery job (its output says more)" },
  unknown_make_target: { status: 422, meaning: "the target is not among the project's discovered targets (GET /v1/projects/{alias}/targets?refresh=true looks again)" },
  owner_cannot_run: { status: 422, meaning: "the schedule's owner (the user it fires as) is disabled, gone, or no longer has a role that may run jobs" },
  secrets_disabled: { status: 422, meaning: 'the job has secretEnv but the control plane has no VMO_SECRET_KEY to encrypt it with' },
  too_many_connections: { status: 429, meaning: 'too many connections from this address have not authenticated' },
  too_many_sessions: { status: 429, meaning: 'the agent or host already has VMO_SHELL_MAX_SESSIONS_PER_TARGET shell sessions alive (attached, or detached within their grace): close or exit one, or reattach to one with ?session=' },
  rate_limited: { status: 429, meaning: 'too many submissions for this credential (VMO_SUBMIT_RATE), or too many failed authentications from this address (VMO_AUTH_FAIL_RATE); Retry-After (and details.retryAfterSeconds) says when to try again' },
  internal: { status: 500, meaning: 'a bug: see the server log' },
  unavailable: { status: 503, meaning: 'Postgres or Redis is not answering; retry shortly' },
  dashboard_not_built: { status: 503, meaning: "the web dashboard's files are not built on this API node: `npm run build -w @vmo/dashboard` (npm start builds them)" },
  summary_timeout: { status: 503, meaning: "the run's summary was not ready within its time limit (its children's output is still being hashed, or Postgres is slow); retry: the hashes computed so far are kept" },
} as const satisfies Record<string, { status: HttpErrorStatus; meaning: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;
/** The codes that come with `status`, e.g. `HttpErrorCodeFor<409>` = `'job_ended' | 'name_taken' | 'host_exists'`. */
export type HttpErrorCodeFor<S extends HttpErrorStatus> = { [C in HttpErrorCode]: (typeof HTTP_ERRORS)[C]['status'] extends S ? C : never }[HttpErrorCode];
export const HTTP_ERROR_CODES = Object.keys(HTTP_ERRORS) as [HttpErrorCode, ...HttpErrorCode[]];
/** The codes a given status can carry, for documenting a route's answers. */
export const httpErrorCodesFor = (status: HttpErrorStatus): HttpErrorCode[] => HTTP_ERROR_CODES.filter((c) => HTTP_ERRORS[c].status === status);

/**
 * Job `error.code`: `ends` is the status the job ends with; `retry` says whether submitting the
 * job again can help (`maybe`: the cause may pass).
 */
export const JOB_ERRORS = {
  // Any target
  spawn_failed: { ends: 'failed', retry: 'no', meaning: 'the command could not be started (e.g. its cwd does not exist)' },
  executor_failed: { ends: 'failed', retry: 'maybe', meaning: 'the worker could not run the job (a bug or an outage; see the worker log)' },
  internal: { ends: 'failed', retry: 'maybe', meaning: 'the worker failed while handling the job; see the worker log' },
  worker_lost: { ends: 'lost', retry: 'maybe', meaning: 'the worker running the job stopped (killed, crashed) while the command ran' },
  secrets_unavailable: { ends: 'failed', retry: 'no', meaning: "the job's secretEnv could not be opened where it was to run (that process has no VMO_SECRET_KEY or another one, or the secrets were gone); nothing ran" },
  // Run children (`skipped`: never ran, by the run's rules)
  max_errors_exceeded: { ends: 'skipped', retry: 'maybe', meaning: "the run's failures passed its maxErrors before this child started" },
  canary_failed: { ends: 'skipped', retry: 'maybe', meaning: "one of the run's canaries failed, so the rest never started" },
  target_offline: { ends: 'skipped', retry: 'maybe', meaning: 'the agent was offline when the child came up and the run said offline: "skip"' },
  // Agent jobs
  agent_offline: { ends: 'failed', retry: 'maybe', meaning: 'the agent was not online within the dispatch timeout' },
  agent_lost: { ends: 'lost', retry: 'maybe', meaning: 'the agent went away while running the job and did not come back within the grace' },
  agent_restarted: { ends: 'lost', retry: 'maybe', meaning: 'the agent came back without the job: it restarted while the job ran' },
  agent_revoked: { ends: 'failed', retry: 'no', meaning: 'the agent was revoked before or while the job ran' },
  secrets_unsupported: { ends: 'failed', retry: 'no', meaning: 'the job has secretEnv and its agent is too old to take it (it does not announce secret_env): upgrade the agent; nothing ran' },
  // SSH jobs (see packages/ssh/src/ssh-error.ts for why reachability failures share one code)
  unknown_host: { ends: 'failed', retry: 'no', meaning: 'the host was removed from the inventory before the job ran' },
  ssh_target_not_allowed: { ends: 'failed', retry: 'no', meaning: 'the host or a ProxyJump hop is outside VMO_SSH_ALLOWED_TARGETS; nothing was dialled' },
  ssh_connect_failed: { ends: 'failed', retry: 'maybe', meaning: 'no SSH session could be set up (not resolved, refused, unreachable, timed out, closed)' },
  ssh_auth_failed: { ends: 'failed', retry: 'no', meaning: 'the server refused every key offered' },
  ssh_key_unusable: { ends: 'failed', retry: 'no', meaning: 'the identity file is not a readable key under VMO_SSH_KEY_DIRS' },
  host_key_mismatch: { ends: 'failed', retry: 'no', meaning: "the server's key differs from the trusted one: possible man in the middle" },
  host_key_unknown: { ends: 'failed', retry: 'no', meaning: 'strict policy and no trusted key for this host' },
  host_key_revoked: { ends: 'failed', retry: 'no', meaning: 'the key is marked @revoked in known_hosts' },
  ssh_jump_failed: { ends: 'failed', retry: 'no', meaning: 'a ProxyJump hop is not [user@]host[:port]' },
  ssh_channel_failed: { ends: 'failed', retry: 'maybe', meaning: 'the connection is up but a session could not be opened' },
  ssh_connection_lost: { ends: 'failed', retry: 'maybe', meaning: 'the connection dropped while the command ran; it may still be running there' },
} as const satisfies Record<string, { ends: 'failed' | 'lost' | 'skipped'; retry: 'no' | 'maybe'; meaning: string }>;

export type JobErrorCode = keyof typeof JOB_ERRORS;
export const JOB_ERROR_CODES = Object.keys(JOB_ERRORS) as [JobErrorCode, ...JobErrorCode[]];
