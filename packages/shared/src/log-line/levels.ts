// Log levels, services and id fields (log-line.ts documents the line), apart from the zod LogLine:
// the bundled agent's logger imports these, and nothing here may import zod, even indirectly.

export const LOG_LEVEL_NUMBERS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevelName = keyof typeof LOG_LEVEL_NUMBERS;
/** `VMO_LOG_LEVEL`'s values: the level names, and `silent`. */
export const LOG_LEVEL_NAMES = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const LOG_SERVICES = ['api', 'worker', 'agent', 'vmo'] as const;
export type LogService = (typeof LOG_SERVICES)[number];

export const ID_FIELDS = ['requestId', 'jobId', 'runId', 'agentId', 'workerId', 'hostId', 'userId'] as const;

/** The level's name for a number of pino's scale (`30` → `info`); an unknown number keeps its digits. */
export function levelName(level: number): string {
  for (const [name, n] of Object.entries(LOG_LEVEL_NUMBERS)) if (n === level) return name;
  return String(level);
}

