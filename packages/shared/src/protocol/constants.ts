// The agent protocol's constants (PROTOCOL.md), apart from the zod schemas (agent-messages.ts re-exports
// them): the bundled agent imports these, and nothing here may import zod, even indirectly.

export const PROTOCOL_VERSION = 1;
/** Frames above this are refused by both ends (ws closes with 1009). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Output data per binary frame; a chunk is never larger. */
export const MAX_CHUNK_BYTES = 64 * 1024;

/** §1 `hello.features`: this agent takes `run.secretEnv` (and masks it). */
export const FEATURE_SECRET_ENV = 'secret_env';

/** Close codes used on the agent socket (4xxx are ours). */
export const AgentCloseCode = {
  /** Normal shutdown of either end. */
  normal: 1000,
  /** API node going away: reconnect (possibly elsewhere). */
  restart: 1012,
  /** A frame did not parse or broke the protocol: a bug, but reconnecting is still right. */
  policy: 1008,
  /** Token revoked or unknown: do not reconnect with it. */
  revoked: 4401,
  /**
   * The agent's token was rotated: reconnect only with the new one, once it is installed in the
   * agent's token file (§1). An agent that predates this code reconnects with the old token, is
   * refused with HTTP 401 and stops, as for an unknown token.
   */
  tokenRotated: 4410,
  /** Another connection of the same agent took over. */
  replaced: 4409,
} as const;
