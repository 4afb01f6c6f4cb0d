import { z } from 'zod';
import { DEFAULT_AGENT_GRACE_MS, DEFAULT_HEARTBEAT_MS } from '../domain/timings.ts';
import { parsePostgresUrl } from './postgres-url.ts';
import { checkRedisMode, redisEnv } from './redis-mode.ts';
import { secretVar } from './secret-var.ts';
import { secretKeyVar } from './strong-secret.ts';
import { checkTimingRelations } from './timing-relations.ts';

/** Whole-number env var with bounds, e.g. `intVar(3121, 1, 65535)`. */
export const intVar = (def: number, min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be ≥ ${min}`)
    .max(max, `must be ≤ ${max}`)
    .default(def);

/**
 * One Postgres, or several hosts (`postgres://u@db1:5432,db2:5432/vmo?target_session_attrs=read-write`,
 * postgres-url.ts): with several, writes must find the primary, so `target_session_attrs` is
 * `read-write` (the default then) or `primary`.
 */
const databaseUrl = z
  .string()
  .default('postgres://postgres@127.0.0.1:5432/vmo')
  .refine((v) => parsePostgresUrl(v) !== undefined, 'must be a URL starting with postgres:// or postgresql:// (several hosts: postgres://u@db1:5432,db2:5432/vmo)')
  .refine((v) => {
    const u = parsePostgresUrl(v);
    const attrs = u?.params.get('target_session_attrs');
    return !u || u.hosts.length === 1 || attrs === null || attrs === 'read-write' || attrs === 'primary';
  }, 'with several hosts, target_session_attrs must be read-write (the default) or primary: writes must reach the primary');

/**
 * Variables every control-plane process (API, worker) reads. The URLs are secret (secretVar):
 * they may carry a password, so they may come from `VMO_DATABASE_URL_FILE` / `VMO_REDIS_URL_FILE`.
 * Redis is one node, Sentinel or Cluster (redis-mode.ts): a schema that spreads `commonEnv` also
 * takes `.superRefine(checkRedisMode)`.
 */
export const commonEnv = {
  VMO_DATABASE_URL: secretVar(databaseUrl),
  ...redisEnv,
  VMO_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, "_", "-" or "."')
    .default('vmo'),
  VMO_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` (one object per line, log-line/log-line.ts) or `pretty` (readable, for development); the logger reads it, this refuses a typo at start. */
  VMO_LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  /** Per-job output cap; past it the head and tail are kept with a marker between them. */
  VMO_MAX_OUTPUT_BYTES: intVar(64 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
  VMO_OUTPUT_TAIL_BYTES: intVar(1024 * 1024, 0, 1024 * 1024 * 1024),
  /** How often agents heartbeat; presence expires after two intervals (domain/timings.ts). */
  VMO_HEARTBEAT_MS: intVar(DEFAULT_HEARTBEAT_MS, 200, 600_000),
  /** How long an agent may be gone before its running jobs end `lost`; more than 2 × VMO_HEARTBEAT_MS. */
  VMO_AGENT_GRACE_MS: intVar(DEFAULT_AGENT_GRACE_MS, 100, 24 * 3600_000),
  /** Encrypts jobs' `secretEnv` at rest (64 hex characters); the same on the API and the workers. Unset: secretEnv is refused. */
  VMO_SECRET_KEY: secretKeyVar,
};

export const commonSchema = z.object(commonEnv).superRefine(checkTimingRelations).superRefine(checkRedisMode);
export type CommonConfig = z.infer<typeof commonSchema>;
