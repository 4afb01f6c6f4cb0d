/**
 * A tiny JSON-lines logger on stderr. The agent ships as one file with `ws` as its only runtime
 * dependency, so no pino here. stdout stays free for `--help` and anything a caller pipes.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Fields = Record<string, unknown>;
type LogFn = (msg: string, fields?: Fields) => void;

export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  child(bindings: Fields): Logger;
}

const rank: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export function createLogger(level: LogLevel, bindings: Fields = {}, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const at =
    (name: Exclude<LogLevel, 'silent'>): LogFn =>
    (msg, fields) => {
      if (rank[name] < rank[level]) return;
      const entry = { time: new Date().toISOString(), level: name, msg, ...bindings, ...fields };
      write(JSON.stringify(entry, errorsAsText) + '\n');
    };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (more) => createLogger(level, { ...bindings, ...more }, write),
  };
}

/** Never logged, at any depth: a job's env and secretEnv, a token, a header (as in the control plane's logger). */
const CENSORED = new Set(['token', 'authorization', 'headers', 'env', 'secretenv', 'body', 'password', 'passphrase', 'secret', 'cookie']);

/** Errors serialize to `{}` by default; keep their message. Censored keys print as `[redacted]`. */
function errorsAsText(key: string, value: unknown): unknown {
  if (CENSORED.has(key.toLowerCase()) && value !== undefined) return '[redacted]';
  return value instanceof Error ? value.message : value;
}
