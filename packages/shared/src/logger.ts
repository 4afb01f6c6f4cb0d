import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON line per event on stdout; tokens are redacted wherever they appear in a logged object. */
export const createLogger = (name: string, level = process.env.VMO_LOG_LEVEL ?? 'info'): Logger =>
  pino({
    name,
    level,
    redact: { paths: ['token', '*.token', 'headers.authorization', 'req.headers.authorization'], censor: '[redacted]' },
  });
