import { pino, type DestinationStream, type Logger } from 'pino';
import { CENSORED, censorSecrets, SECRET_KEYS } from './log-line/censor.ts';
import { formatPretty, logFormatOf, useColour, type LogFormat } from './log-line/pretty.ts';

export type { Logger };

/**
 * One JSON line per event on stdout, of the one schema every vmo process writes
 * (`log-line/log-line.ts`: `time` ISO, `level` pino's number, `service`, `msg`, the ids under their
 * names). `VMO_LOG_FORMAT=pretty` prints the same lines readable (`log-line/pretty.ts`), in this
 * process: no worker-thread transport.
 *
 * No request body, env or secretEnv value or header value is ever logged:
 * values under those names (log-line/censor.ts) are censored at any depth, and errors are logged through
 * `safeError`, which keeps what an operator needs (type, message, stack, code) and drops what
 * carries data (a Postgres error's `where` and `detail` quote the rejected value, postgres.js
 * attaches the query's parameters, drizzle puts them in the message).
 */
export const createLogger = (name: string, level = process.env.VMO_LOG_LEVEL ?? 'info', options: { format?: LogFormat; destination?: DestinationStream } = {}): Logger => {
  const chosen = options.format === undefined ? logFormatOf() : { format: options.format };
  const pretty = chosen.format === 'pretty';
  const log = pino(
    {
      level,
      base: { service: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: safeError, error: safeError },
      // The keys of log-line/censor.ts: at any depth in a line's fields (walked, copied only when
      // something is censored). LOUD: pino gives a child's bindings to no formatter, so those
      // (ids and roles, set by our code) are censored by `redact`, at the top and one level down.
      formatters: { log: (fields) => withoutQueryParams(censorSecrets(fields)) },
      redact: { paths: SECRET_KEYS.flatMap((k) => [k, `*.${k}`]), censor: CENSORED },
    },
    pretty ? prettyDestination(options.destination) : options.destination,
  );
  if (chosen.problem) log.warn(chosen.problem);
  return log;
};

/** Readable lines on stdout (or `to`), as they are written: development, nothing is buffered or lost at exit. */
function prettyDestination(to?: DestinationStream): DestinationStream {
  const colour = to === undefined && useColour(process.stdout);
  const write = to ? (text: string) => void to.write(text) : (text: string) => void process.stdout.write(text);
  return { write: (line: string) => write(formatPretty(JSON.parse(line) as Record<string, unknown>, colour)) };
}

/** Fields of an error that name or classify it without quoting any data. */
const SAFE_ERROR_FIELDS = ['code', 'errno', 'syscall', 'address', 'port', 'severity', 'routine', 'table_name', 'column_name', 'constraint_name', 'status'];

/** An error as it may be logged; causes are followed (drizzle wraps the driver's error). */
export function safeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? withoutParams(err) : err;
  const message = withoutQuotedData(err, withoutParams(err.message));
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  const out: Record<string, unknown> = { type: err.constructor?.name ?? err.name, message, stack: [`${err.name}: ${message}`, ...frames].join('\n') };
  for (const key of SAFE_ERROR_FIELDS) {
    const value = (err as unknown as Record<string, unknown>)[key];
    if (value !== undefined && (typeof value === 'string' || typeof value === 'number')) out[key] = value;
  }
  if (err.cause !== undefined && depth < 5) out.cause = safeError(err.cause, depth + 1);
  return out;
}

/**
 * Postgres data exceptions (SQLSTATE class 22: `invalid input syntax for type integer: "…"`)
 * quote the rejected value in the message itself: keep the words, drop the quotes' contents.
 */
function withoutQuotedData(err: Error, message: string): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('22') ? message.replace(/"(?:[^"\\]|\\.)*"/g, '"…"') : message;
}

/** DrizzleQueryError's message is "Failed query: <sql>\nparams: <values>": keep the SQL only. */
const withoutParams = (text: string) => {
  const at = text.indexOf('\nparams:');
  return at === -1 ? text : `${text.slice(0, at)} [params not logged]`;
};

/** `log.warn({ err: err.message })` is common: the same cut for top-level strings. */
function withoutQueryParams(obj: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(obj)) if (typeof value === 'string' && value.includes('\nparams:')) obj[key] = withoutParams(value);
  return obj;
}
