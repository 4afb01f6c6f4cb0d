import { CENSORED, formatPretty, isSecretKey, LOG_LEVEL_NAMES, LOG_LEVEL_NUMBERS, logFormatOf, useColour, type LogFormat } from '@vmo/shared/log-line';

/**
 * The agent's log lines: the one schema of every vmo process (`@vmo/shared/log-line`: `time`
 * ISO, `level` pino's number, `service: "agent"`, `msg`, the ids under their names), written by
 * this small writer because the agent ships as one file with `ws` as its only runtime dependency
 * (no pino). On stderr: stdout stays free for `--help`, `--version` and anything a caller pipes.
 * `VMO_LOG_FORMAT=pretty` prints them readable, as the services do.
 */
export const LOG_LEVELS = LOG_LEVEL_NAMES;
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

const rank = (level: LogLevel): number => (level === 'silent' ? Infinity : LOG_LEVEL_NUMBERS[level]);

export function createLogger(level: LogLevel, bindings: Fields = {}, write?: (line: string) => void, format: LogFormat = logFormatOf().format): Logger {
  const sink = write ?? ((l: string) => void process.stderr.write(l));
  const out = format === 'pretty' ? pretty(sink, write === undefined && useColour(process.stderr)) : sink;
  const at =
    (name: keyof typeof LOG_LEVEL_NUMBERS): LogFn =>
    (msg, fields) => {
      if (LOG_LEVEL_NUMBERS[name] < rank(level)) return;
      // The key order is kept stable (msg before the fields): people grep these lines.
      const entry = { time: new Date().toISOString(), level: LOG_LEVEL_NUMBERS[name], service: 'agent', msg, ...bindings, ...fields };
      out(JSON.stringify(entry, errorsAsText) + '\n');
    };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (more) => createLogger(level, { ...bindings, ...more }, out, 'json'), // `out` already formats
  };
}

function pretty(sink: (text: string) => void, colour: boolean): (line: string) => void {
  return (line) => sink(formatPretty(JSON.parse(line) as Record<string, unknown>, colour));
}

/** Errors serialize to `{}` by default; keep their message. The keys of @vmo/shared/log-line's censor.ts print as `[redacted]`, at any depth. */
function errorsAsText(key: string, value: unknown): unknown {
  if (value !== undefined && isSecretKey(key)) return CENSORED;
  return value instanceof Error ? value.message : value;
}
