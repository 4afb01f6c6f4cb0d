// The shell protocol's constants (SHELL.md), apart from the zod schemas (shell-messages.ts re-exports
// them): the bundled agent imports these, and nothing here may import zod, even indirectly.

/** §S3 The ring the agent keeps per session: never below 64 KiB. */
export const SHELL_MIN_RING_BYTES = 64 * 1024;
export const SHELL_DEFAULT_RING_BYTES = 1024 * 1024;
/** §S6 Bytes the agent sends beyond the lowest acknowledged offset before it pauses the PTY. */
export const SHELL_WINDOW_BYTES = 256 * 1024;
/** §S6 Socket watermarks: over high, stop acknowledging / pause; under low, go on. */
export const SHELL_HIGH_WATERMARK = 256 * 1024;
export const SHELL_LOW_WATERMARK = 64 * 1024;
/** §S4 An attachment's node sends `shell_ack` at least this often; the agent drops one silent for ATTACH_TIMEOUT. */
export const SHELL_KEEPALIVE_MS = 10_000;
export const SHELL_ATTACH_TIMEOUT_MS = 30_000;
/** §S2 Input bytes per binary frame from a client. */
export const SHELL_MAX_INPUT_FRAME = 64 * 1024;

/** §S5 `hello.features`: this agent opens shells. */
export const FEATURE_SHELL = 'shell';
