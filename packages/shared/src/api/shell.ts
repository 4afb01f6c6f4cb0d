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
    ...errorResponses({ 400: ['validation_failed', 'protocol_required'], 401: ['unauthorized'], 403: ['forbidden', 'target_forbidden'], 404: ['not_found'], 409: ['agent_not_connected'], 429: ['too_many_connections', 'rate_limited'], 503: ['unavailable'] }),
  },
});

/** A server control frame, typed (the schema above). */
export type ShellServerFrame = z.infer<typeof ShellServerMessage>;
