import { z } from 'zod';

/**
 * THE shape of every log line of the API, the worker and the agent (issue 12, Logs): one JSON
 * object per line. The services write it through pino (`../logger.ts`), the agent through its own
 * small writer (`services/agent/src/logger.ts`: the agent ships as one bundled file without
 * pino); both are tested against `LogLine` below.
 *
 * - `time`: ISO 8601 in UTC (`2026-11-30T13:47:26.123Z`).
 * - `level`: a number, pino's scale (`LOG_LEVEL_NUMBERS`): `jq 'select(.level >= 40)'` is every
 *   warning and error. `VMO_LOG_FORMAT=pretty` prints the name.
 * - `service`: which program wrote it (`api`, `worker`, `agent`; `vmo` for the all-in-one `npm
 *   start`, whose lines also say `role`).
 * - `msg`: what happened, in words.
 * - The ids the line concerns, under these names only (`ID_FIELDS`): `requestId` (echoed to the
 *   client as `X-Request-Id`), `jobId`, `runId`, `agentId`, `workerId`, `hostId`, `userId`.
 * - Anything else the line needs (`status`, `exitCode`, `durationMs`, `err`, …). Never a token, a
 *   header value, a request body or a job's environment (the loggers censor those keys).
 */
// The names and numbers live in levels.ts (no zod: the bundled agent's logger imports them without LogLine).
export * from './levels.ts';
import { LOG_SERVICES } from './levels.ts';

/** An error as the loggers write it: what names and classifies it, never the data it carried. */
const LoggedError = z.union([z.string(), z.looseObject({ message: z.string(), type: z.string().optional(), stack: z.string().optional() })]);

const id = z.string().min(1);

export const LogLine = z.looseObject({
  time: z.iso.datetime({ offset: false }),
  level: z.literal([10, 20, 30, 40, 50, 60]),
  service: z.enum(LOG_SERVICES),
  msg: z.string().min(1),
  requestId: id.optional(),
  jobId: id.optional(),
  runId: id.optional(),
  agentId: id.optional(),
  workerId: id.optional(),
  hostId: id.optional(),
  userId: id.optional(),
  err: LoggedError.optional(),
});
export type LogLine = z.infer<typeof LogLine>;

/**
 * The JSON lines of a process's output, each parsed against `LogLine`; lines that are not JSON
 * (a config error, the admin token banner, `vmo is running at …`) are returned apart. For tests
 * and for tools that read a service's log.
 */
export function parseLogLines(output: string): { lines: LogLine[]; invalid: { line: string; problem: string }[]; other: string[] } {
  const lines: LogLine[] = [];
  const invalid: { line: string; problem: string }[] = [];
  const other: string[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      other.push(line);
      continue;
    }
    const parsed = LogLine.safeParse(value);
    if (parsed.success) lines.push(parsed.data);
    else invalid.push({ line, problem: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
  }
  return { lines, invalid, other };
}
