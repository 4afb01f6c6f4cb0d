import { z } from 'zod';
import { errorResponses, SERVED } from './errors.ts';
import { defineRoute, json } from './route.ts';

/**
 * Agents that install themselves (issue 12): the control plane serves the bundled agent and an
 * installer, so a VM needs only curl and Node:
 *
 *   curl -fsSL $SERVER/v1/agent/install.sh | sudo sh -s -- --server $SERVER --token-file web-1.token
 *
 * Neither needs a credential: the agent is our code and the installer holds no secret (the token
 * stays in the VM's file). The installer checks the token with GET /v1/agent/whoami before it
 * enables the service.
 */

/** The bundle's sha256 (hex), on the download and HEAD of it; the installer checks the file it got against it. */
export const AGENT_SHA256_HEADER = 'X-Vmo-Agent-Sha256';
/** The agent's version (its package.json). */
export const AGENT_VERSION_HEADER = 'X-Vmo-Agent-Version';

const bundleHeaders = z.object({
  [AGENT_SHA256_HEADER]: z.string().meta({ description: 'sha256 of the body, hex', example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' }),
  [AGENT_VERSION_HEADER]: z.string().meta({ description: "The agent's version", example: '0.1.0' }),
  ETag: z.string().meta({ description: 'The sha256, quoted: send it back as If-None-Match' }),
});

export const downloadAgent = defineRoute({
  method: 'get',
  path: '/v1/agent/download',
  operationId: 'downloadAgent',
  tags: ['agents'],
  summary: 'The agent, bundled in one file',
  description: [
    'One ES module (`vmo-agent.mjs`, Node ≥ 20, nothing else needed): `node vmo-agent.mjs --server URL --token-file F`. No token needed: it is the same code for everyone and holds no secret.',
    '',
    'Built by this API node from the agent sources it runs with, once, on the first request (a second or so), then held in memory: every node of one release serves the same bytes and the same `X-Vmo-Agent-Sha256`, which the installer checks.',
  ].join('\n'),
  security: [],
  responses: {
    200: { description: 'The bundled agent', headers: bundleHeaders, content: { 'text/javascript': { schema: z.string().meta({ description: 'An ES module' }) } } },
    304: { description: 'Not modified: If-None-Match named this bundle', headers: bundleHeaders },
    ...errorResponses({ ...SERVED, 503: ['unavailable'] }),
  },
});

export const agentInstallScript = defineRoute({
  method: 'get',
  path: '/v1/agent/install.sh',
  operationId: 'agentInstallScript',
  tags: ['agents'],
  summary: 'The agent installer (POSIX sh)',
  description: [
    '`curl -fsSL $SERVER/v1/agent/install.sh | sudo sh -s -- --server $SERVER --token-file FILE [--labels k=v,…] [--name N] [--prefix DIR] [--no-service]`, and `--uninstall`. No token needed: the script holds no secret; the agent\'s token stays in FILE on the VM and is never put on a command line.',
    '',
    'It downloads `/v1/agent/download` and checks its sha256 against the one written into the script, checks the token with `GET /v1/agent/whoami`, and only then installs the token (mode 0600), the agent and its systemd unit (when systemd runs; `--no-service` otherwise) and starts it. `sh -s -- --help` lists every option.',
  ].join('\n'),
  security: [],
  responses: {
    200: { description: 'The installer', content: { 'text/x-shellscript': { schema: z.string().meta({ description: 'A POSIX sh script' }) } } },
    ...errorResponses({ ...SERVED, 503: ['unavailable'] }),
  },
});

export const AgentIdentity = z
  .object({
    id: z.string().meta({ example: 'agt_0123456789abcdefghij' }),
    name: z.string().meta({ example: 'web-1' }),
    labels: z.record(z.string(), z.string()).meta({ description: 'The labels it was registered with' }),
  })
  .meta({ id: 'AgentIdentity' });
export type AgentIdentity = z.infer<typeof AgentIdentity>;

export const agentWhoami = defineRoute({
  method: 'get',
  path: '/v1/agent/whoami',
  operationId: 'agentWhoami',
  tags: ['agents'],
  summary: 'The agent an agent token belongs to',
  description:
    "With `Authorization: Bearer <agent token>` (`vmo_agt_…`): whether the token is live, and whose, without opening the agent's WebSocket. The installer asks it before enabling the service. Any other kind of token is 403; an unknown or revoked one 401 (counted by VMO_AUTH_FAIL_RATE).",
  security: [{ agentToken: [] }],
  responses: {
    200: { description: 'The agent', content: json(AgentIdentity) },
    ...errorResponses({ ...SERVED, 401: ['unauthorized'], 403: ['forbidden'], 429: ['too_many_connections', 'rate_limited'], 503: ['unavailable'] }),
  },
});
