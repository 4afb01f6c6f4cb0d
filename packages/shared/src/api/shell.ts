import { z } from 'zod';
import { ShellQuery, ShellServerMessage } from '../protocol/shell-messages.ts';
import { errorResponses } from './errors.ts';
import { defineRoute } from './route.ts';

/**
 * Issue 17: the shell upgrade as a route, so the document lists it and the client builds its URL
 * from the same place as the server's (protocol/SHELL.md is the spec; shell-messages.ts the frames).
 */
export { ShellQuery, ShellServerMessage, ShellCloseCode, ShellClientMessage } from '../protocol/shell-messages.ts';

const AgentRefParams = z.object({ id: z.string().min(1).max(256).meta({ description: "The agent's id or name" }) });

export const agentShell = defineRoute({
  method: 'get',
  path: '/v1/agents/{id}/shell',
  operationId: 'agentShell',
  tags: ['sessions'],
  summary: 'An interactive shell on an agent (WebSocket)',
  description: [
    'A WebSocket upgrade onto a PTY the agent holds (packages/shared/src/protocol/SHELL.md). Authenticated like the job stream (`Authorization: Bearer <token>`, or the subprotocols `vmo.v1` + `bearer.<token>`); needs the `jobs:run` scope and the `run` permission on the agent.',
    '',
    '**Frames**: binary frames are terminal bytes both ways. Text frames are JSON control: from the client `{"type":"resize","cols","rows"}`, `{"type":"ack","offset"}`, `{"type":"close"}` (detach, the session stays); from the server `{"type":"hello","session","offset","reset"}` first, `{"type":"exit","code","signal"}` at the end, `{"type":"error","code","message"}`.',
    '',
    '**Resuming**: reconnect with `?session=<hello.session>&offset=<bytes rendered>` within VMO_SHELL_GRACE_MS: the bytes after `offset` follow, none twice. `hello.reset: true` means the offset has left the ring: reset the screen, then render from `hello.offset`. Do not send the terminal\'s answers to queries found in replayed bytes.',
    '',
    '**Close codes**: `1000` the shell exited (after `exit`) or the client detached; `1008` a frame broke the protocol; `1011` an error (reconnect); `1012` the API node is restarting (reconnect); `4404` the session is gone (do not reconnect to it).',
  ].join('\n'),
  request: { params: AgentRefParams, query: ShellQuery },
  responses: {
    101: { description: 'Switching Protocols: the first frame is `hello`' },
    ...errorResponses({ 400: ['validation_failed', 'protocol_required'], 401: ['unauthorized'], 403: ['forbidden', 'target_forbidden'], 404: ['not_found'], 409: ['agent_not_connected'], 429: ['too_many_connections', 'rate_limited', 'too_many_sessions'], 503: ['unavailable'] }),
  },
});

const HostRefParams = z.object({ id: z.string().min(1).max(256).meta({ description: 'The host: `hst_…` id, `name@environment`, or a bare name (resolved as for an ssh job target)' }) });

/** Issue 17: the same protocol on an SSH host, no agent (the PTY is an ssh2 pty channel held by an API node). */
export const hostShell = defineRoute({
  method: 'get',
  path: '/v1/hosts/{id}/shell',
  operationId: 'hostShell',
  tags: ['sessions'],
  summary: 'An interactive shell on an SSH host (WebSocket)',
  description: [
    'The agent shell\'s protocol, frames, resuming and close codes (see agentShell, packages/shared/src/protocol/SHELL.md) on a host of the SSH inventory: a pty channel on the pooled SSH connection jobs to that host use (same identity, host key trust and jump hosts). Needs the `jobs:run` scope and the `run` permission on the host, as an ssh job does; a host the caller may not read is 404. A host that cannot be reached ends the session with a message and exit code 255.',
  ].join('\n'),
  request: { params: HostRefParams, query: ShellQuery },
  responses: {
    101: { description: 'Switching Protocols: the first frame is `hello`' },
    ...errorResponses({ 400: ['validation_failed', 'protocol_required'], 401: ['unauthorized'], 403: ['forbidden', 'target_forbidden'], 404: ['not_found'], 422: ['ambiguous_host'], 429: ['too_many_connections', 'rate_limited', 'too_many_sessions'], 503: ['unavailable'] }),
  },
});

const WorkspaceRefParams = z.object({ id: z.string().min(1).max(256).meta({ description: 'The workspace id (`wks_…`) or, for your own, its name' }) });

/** Issues 17 and 18: the same protocol in a workspace, through the vmo agent it runs. */
export const workspaceShell = defineRoute({
  method: 'get',
  path: '/v1/workspaces/{id}/shell',
  operationId: 'workspaceShell',
  tags: ['sessions'],
  summary: "An interactive shell in a workspace, on its agent (WebSocket)",
  description: [
    "The agent shell's protocol, frames, resuming and close codes (see agentShell, packages/shared/src/protocol/SHELL.md) on the workspace's own agent. Needs the `jobs:run` scope (a viewer: 403 before the upgrade); the workspace is its owner's and the admins' (no policy on its agent is needed), anyone else gets 404 as for a workspace that does not exist. A workspace whose agent is not connected (stopped, still starting) is 409 `agent_not_connected`. An attached session counts as the workspace's activity.",
  ].join('\n'),
  request: { params: WorkspaceRefParams, query: ShellQuery },
  responses: {
    101: { description: 'Switching Protocols: the first frame is `hello`' },
    ...errorResponses({ 400: ['validation_failed', 'protocol_required'], 401: ['unauthorized'], 403: ['forbidden'], 404: ['not_found'], 409: ['agent_not_connected'], 429: ['too_many_connections', 'rate_limited', 'too_many_sessions'], 503: ['unavailable'] }),
  },
});

/** A server control frame, typed (the schema above). */
export type ShellServerFrame = z.infer<typeof ShellServerMessage>;
