import { ID_FIELDS, levelName } from './levels.ts';

/**
 * `VMO_LOG_FORMAT`: `json` (the default: one JSON object per line, `log-line.ts`) or `pretty`
 * (readable lines for a terminal in development). Anything else is taken as `json`, with one
 * warning line: a typo in a log setting must not stop a control plane from starting.
 */
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMAT_VAR = 'VMO_LOG_FORMAT';

export function logFormatOf(env: NodeJS.ProcessEnv = process.env): { format: LogFormat; problem?: string } {
  const value = env[LOG_FORMAT_VAR];
  if (value === undefined || value === '' || value === 'json') return { format: 'json' };
  if (value === 'pretty') return { format: 'pretty' };
  return { format: 'json', problem: `${LOG_FORMAT_VAR}: must be json or pretty (got ${JSON.stringify(value.slice(0, 40))}); writing json` };
}

const COLOURS: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };
/** Written first, in this order; the rest follow as `key=value`. */
const HEAD = new Set(['time', 'level', 'service', 'msg', 'role']);

/**
 * One log line (as the JSON loggers build it) as a readable one:
 * `13:47:26.123 INFO  api  request  method=GET path=/v1/jobs status=200 requestId=…`.
 * Ids come first after the message, an error's stack on the lines below it. Colour only when
 * asked (a TTY without NO_COLOR: `useColour`).
 */
export function formatPretty(entry: Record<string, unknown>, colour = false): string {
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toISOString().slice(11, 23);
  const name = typeof entry.level === 'number' ? levelName(entry.level) : String(entry.level);
  const level = name.toUpperCase().padEnd(5);
  const service = [entry.service, entry.role].filter((v) => typeof v === 'string').join('/');
  const rest: string[] = [];
  let stack: string | undefined;
  const keys = [...ID_FIELDS.filter((k) => k in entry), ...Object.keys(entry).filter((k) => !HEAD.has(k) && !(ID_FIELDS as readonly string[]).includes(k))];
  for (const key of keys) {
    const value = entry[key];
    if (value === undefined) continue;
    if ((key === 'err' || key === 'error') && value !== null && typeof value === 'object' && 'message' in value) {
      const e = value as { type?: string; message: string; stack?: string };
      rest.push(`${key}=${JSON.stringify(`${e.type ? `${e.type}: ` : ''}${e.message}`)}`);
      stack = e.stack?.split('\n').slice(1).join('\n');
      continue;
    }
    rest.push(`${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  const paint = (code: string | undefined, text: string) => (colour && code ? `\x1b[${code}m${text}\x1b[0m` : text);
  const line = `${paint('90', time)} ${paint(COLOURS[name], level)} ${service}  ${entry.msg ?? ''}${rest.length ? `  ${paint('90', rest.join(' '))}` : ''}`;
  return stack ? `${line}\n${paint('90', stack)}\n` : `${line}\n`;
}

/** Colour on a terminal, never with NO_COLOR (https://no-color.org). */
export const useColour = (stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean => stream.isTTY === true && env.NO_COLOR === undefined;
