import { z } from 'zod';
import { secretVar } from './secret-var.ts';

/**
 * How a process reaches Redis: one of three modes, chosen by which variable is set (issue 19).
 *
 * | mode     | variables                                                                 |
 * |----------|---------------------------------------------------------------------------|
 * | single   | `VMO_REDIS_URL` (default `redis://127.0.0.1:6379` when no mode is set)    |
 * | sentinel | `VMO_REDIS_SENTINELS` + `VMO_REDIS_SENTINEL_NAME` (+ `VMO_REDIS_PASSWORD`, `VMO_REDIS_SENTINEL_PASSWORD`) |
 * | cluster  | `VMO_REDIS_CLUSTER_NODES` (+ `VMO_REDIS_PASSWORD`)                          |
 *
 * The connection itself is built in one place, `redis.ts` (`createRedis`), from `redisTargetOf`.
 */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port`; undefined when it is neither. */
function hostPortOf(item: string): HostPort | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s,:[\]]+)):(\d{1,5})$/.exec(item.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/** `a:26379,b:26379` → [{host,port}…]; throws on anything else (the schema refused it before). */
export function parseHostPorts(list: string): HostPort[] {
  return list.split(',').map((item) => {
    const at = hostPortOf(item);
    if (!at) throw new Error(`"${item.trim()}" is not host:port`);
    return at;
  });
}

const hostPortList = z
  .string()
  .optional()
  .refine((v) => v === undefined || v.split(',').every((item) => hostPortOf(item) !== undefined), 'must be a comma-separated list of host:port');

const redisUrl = z
  .string()
  .optional()
  .refine((v) => {
    if (v === undefined) return true;
    try {
      return ['redis:', 'rediss:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be a URL starting with redis:// or rediss://');

/** The Redis variables of `commonEnv`. URLs and passwords are secret (they may carry a password; `<NAME>_FILE` too). */
export const redisEnv = {
  /** One Redis node (the default mode). */
  VMO_REDIS_URL: secretVar(redisUrl),
  /** Sentinel mode: the sentinels, `host:port,host:port`. */
  VMO_REDIS_SENTINELS: hostPortList,
  /** Sentinel mode: the master's name in the sentinels' configuration (`sentinel monitor <name> …`). */
  VMO_REDIS_SENTINEL_NAME: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a sentinel master name (letters, digits, "_", "-", ".")').optional(),
  /** Sentinel mode: the sentinels' own password (`requirepass` of the sentinels), if any. */
  VMO_REDIS_SENTINEL_PASSWORD: secretVar(z.string().min(1).optional()),
  /** Cluster mode: some of the cluster's nodes (the others are discovered), `host:port,host:port`. */
  VMO_REDIS_CLUSTER_NODES: hostPortList,
  /** Sentinel and Cluster modes: the data nodes' password (in single mode it is part of VMO_REDIS_URL). */
  VMO_REDIS_PASSWORD: secretVar(z.string().min(1).optional()),
};

export type RedisSettings = { [K in keyof typeof redisEnv]?: string | undefined };

const MODE_VARIABLES = ['VMO_REDIS_URL', 'VMO_REDIS_SENTINELS', 'VMO_REDIS_CLUSTER_NODES'] as const;

/**
 * For `.superRefine` on a process's schema: exactly one Redis mode, and each mode's companions
 * only with it. The issue names the variable to change (one line at start).
 */
export function checkRedisMode(config: RedisSettings, ctx: z.RefinementCtx): void {
  const set = MODE_VARIABLES.filter((name) => config[name] !== undefined);
  if (set.length > 1) {
    ctx.addIssue({ code: 'custom', path: [set[1]!], message: `set only one of ${MODE_VARIABLES.join(', ')} (${set.join(' and ')} are both set)` });
    return;
  }
  const sentinel = config.VMO_REDIS_SENTINELS !== undefined;
  if (sentinel && config.VMO_REDIS_SENTINEL_NAME === undefined) ctx.addIssue({ code: 'custom', path: ['VMO_REDIS_SENTINEL_NAME'], message: 'is required with VMO_REDIS_SENTINELS (the master name the sentinels monitor)' });
  for (const companion of ['VMO_REDIS_SENTINEL_NAME', 'VMO_REDIS_SENTINEL_PASSWORD'] as const) {
    if (!sentinel && config[companion] !== undefined) ctx.addIssue({ code: 'custom', path: [companion], message: 'is only read with VMO_REDIS_SENTINELS' });
  }
  if (config.VMO_REDIS_PASSWORD !== undefined && set[0] !== 'VMO_REDIS_SENTINELS' && set[0] !== 'VMO_REDIS_CLUSTER_NODES') {
    ctx.addIssue({ code: 'custom', path: ['VMO_REDIS_PASSWORD'], message: 'is only read with VMO_REDIS_SENTINELS or VMO_REDIS_CLUSTER_NODES (with one node, put the password in VMO_REDIS_URL)' });
  }
}

/** Where Redis is, as the one connection factory (`redis.ts`) takes it. */
export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; password?: string; sentinelPassword?: string }
  | { mode: 'cluster'; nodes: HostPort[]; password?: string };

/** The target a checked configuration names (checkRedisMode ran): the one place the mode is decided. */
export function redisTargetOf(config: RedisSettings): RedisTarget {
  const password = config.VMO_REDIS_PASSWORD !== undefined ? { password: config.VMO_REDIS_PASSWORD } : {};
  if (config.VMO_REDIS_SENTINELS !== undefined) {
    return {
      mode: 'sentinel',
      sentinels: parseHostPorts(config.VMO_REDIS_SENTINELS),
      name: config.VMO_REDIS_SENTINEL_NAME!,
      ...password,
      ...(config.VMO_REDIS_SENTINEL_PASSWORD !== undefined ? { sentinelPassword: config.VMO_REDIS_SENTINEL_PASSWORD } : {}),
    };
  }
  if (config.VMO_REDIS_CLUSTER_NODES !== undefined) return { mode: 'cluster', nodes: parseHostPorts(config.VMO_REDIS_CLUSTER_NODES), ...password };
  return { mode: 'single', url: config.VMO_REDIS_URL ?? DEFAULT_REDIS_URL };
}

/** The variable an operator changes when this target cannot be reached (start-up failures). */
export function redisVariableOf(target: RedisTarget): string {
  return target.mode === 'single' ? 'VMO_REDIS_URL' : target.mode === 'sentinel' ? 'VMO_REDIS_SENTINELS' : 'VMO_REDIS_CLUSTER_NODES';
}
