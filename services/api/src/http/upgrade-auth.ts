import type { IncomingMessage } from 'node:http';
import { AppError, unauthorized } from '@vmo/shared/errors';
import { BEARER_SUBPROTOCOL_PREFIX as BEARER_PREFIX, STREAM_SUBPROTOCOL } from '@vmo/shared/api';
import { bearerToken } from '@vmo/shared/tokens';
import type { AuthRequest } from '../auth/proxy-identity.ts';

function offeredProtocols(req: IncomingMessage): string[] {
  return String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/**
 * The token of a job-stream upgrade: the Authorization header or, for browsers (which cannot set
 * headers on a WebSocket), the subprotocol `bearer.<token>` offered together with `vmo.v1`, as
 * Kubernetes does with `base64url.bearer.authorization.k8s.io.<token>`. The server selects
 * `vmo.v1` (chooseProtocol), so the token is never echoed back in `Sec-WebSocket-Protocol`. A
 * bearer subprotocol without `vmo.v1` is refused: the server would have no protocol to select but
 * the token. Never the URL: URLs end up in logs.
 */
export function streamUpgradeToken(req: IncomingMessage): string | undefined {
  const offered = offeredProtocols(req);
  const bearer = offered.find((p) => p.startsWith(BEARER_PREFIX));
  if (bearer !== undefined && !offered.includes(STREAM_SUBPROTOCOL)) {
    throw new AppError(400, 'protocol_required', `offer the "${STREAM_SUBPROTOCOL}" subprotocol together with "bearer.<token>": the server selects "${STREAM_SUBPROTOCOL}" and never echoes the token`);
  }
  return bearerToken(req.headers.authorization) ?? bearer?.slice(BEARER_PREFIX.length);
}

/** What a stream upgrade without any credential is told. */
export const STREAM_CREDENTIAL_REQUIRED = 'a bearer token is required (the Authorization header, or the subprotocols "vmo.v1" and "bearer.<token>")';

/**
 * A job- or run-stream upgrade as authenticate() sees it, exactly as a REST request is
 * (require-user.ts): the same token, the socket's peer and the headers, so the trusted proxy's
 * user header opens a stream as it opens a REST call, and from any other address counts for nothing.
 */
export function upgradeAuthRequest(req: IncomingMessage): AuthRequest {
  // Taken now, not read from `req` later: an open stream keeps this to check its access again
  // (streams/stream-access.ts), and must not keep the request (or a socket that is gone) alive for it.
  const headers = req.headersDistinct;
  return {
    token: streamUpgradeToken(req),
    peer: req.socket.remoteAddress,
    header: (name) => headers[name.toLowerCase()] ?? [],
  };
}

/** The token of an agent's upgrade: the Authorization header only (PROTOCOL.md §1). */
export function agentUpgradeToken(req: IncomingMessage): string {
  const token = bearerToken(req.headers.authorization);
  if (token) return token;
  const inProtocol = offeredProtocols(req).some((p) => p.startsWith(BEARER_PREFIX));
  throw unauthorized(
    inProtocol
      ? 'the agent endpoint takes the agent token only in the Authorization header ("Authorization: Bearer <agent token>"), not in a subprotocol'
      : 'agent token required: Authorization: Bearer <agent token>',
  );
}

/**
 * The subprotocol to select: `vmo.v1` if offered, else none. Never a `bearer.` one (that would
 * echo the token), and never whatever came first (ws's default without this function).
 */
export function chooseProtocol(protocols: Set<string>): string | false {
  return protocols.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false;
}
