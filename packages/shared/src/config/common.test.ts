import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commonEnv, commonSchema, intVar } from './common.ts';
import { parsePostgresUrl } from './postgres-url.ts';
import { redisTargetOf } from './redis-mode.ts';
import { tryParseEnv } from './parse-env.ts';

describe('commonEnv', () => {
  it('serves a single machine with local services by default', () => {
    expect(tryParseEnv(commonSchema, {})).toEqual({
      VMO_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/vmo',
      VMO_REDIS_PREFIX: 'vmo',
      VMO_LOG_LEVEL: 'info',
      VMO_LOG_FORMAT: 'json',
      VMO_MAX_OUTPUT_BYTES: 64 * 1024 * 1024,
      VMO_OUTPUT_TAIL_BYTES: 1024 * 1024,
      VMO_HEARTBEAT_MS: 10_000,
      VMO_AGENT_GRACE_MS: 120_000,
    });
    // No Redis mode set: one node on the local default.
    expect(redisTargetOf(tryParseEnv(commonSchema, {}))).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379' });
  });

  it('reads given values, numbers as numbers', () => {
    const config = tryParseEnv(commonSchema, {
      VMO_DATABASE_URL: 'postgresql://u:p@db:6543/x',
      VMO_REDIS_URL: 'rediss://cache:6380/2',
      VMO_REDIS_PREFIX: 'prod-eu.1_a',
      VMO_LOG_LEVEL: 'debug',
      VMO_MAX_OUTPUT_BYTES: '1048576',
      VMO_HEARTBEAT_MS: '500',
    });
    expect(config).toMatchObject({ VMO_DATABASE_URL: 'postgresql://u:p@db:6543/x', VMO_REDIS_URL: 'rediss://cache:6380/2', VMO_REDIS_PREFIX: 'prod-eu.1_a', VMO_LOG_LEVEL: 'debug', VMO_MAX_OUTPUT_BYTES: 1048576, VMO_HEARTBEAT_MS: 500 });
  });

  it('ignores unrelated variables', () => {
    expect(tryParseEnv(commonSchema, { PATH: '/bin', VMO_SOMETHING_ELSE: 'x' }).VMO_REDIS_PREFIX).toBe('vmo');
  });

  it.each([
    ['VMO_DATABASE_URL', 'mysql://db/x', /^VMO_DATABASE_URL: must be a URL starting with postgres:\/\/ or postgresql:\/\//],
    ['VMO_DATABASE_URL', 'not a url', /^VMO_DATABASE_URL: must be a URL/],
    ['VMO_REDIS_URL', 'http://cache:6379', /^VMO_REDIS_URL: must be a URL starting with redis:\/\/ or rediss:\/\//],
    ['VMO_REDIS_URL', '127.0.0.1:6379', /^VMO_REDIS_URL: must be a URL/],
    ['VMO_REDIS_PREFIX', 'has space', /^VMO_REDIS_PREFIX: must be 1-64 letters/],
    ['VMO_REDIS_PREFIX', 'a:b', /^VMO_REDIS_PREFIX: must be 1-64 letters/],
    ['VMO_REDIS_PREFIX', '{tag}', /^VMO_REDIS_PREFIX: must be 1-64 letters/],
    ['VMO_REDIS_PREFIX', '', /^VMO_REDIS_PREFIX: must be 1-64 letters/],
    ['VMO_REDIS_PREFIX', 'p'.repeat(65), /^VMO_REDIS_PREFIX: must be 1-64 letters/],
    ['VMO_LOG_LEVEL', 'loud', /^VMO_LOG_LEVEL: /],
    ['VMO_HEARTBEAT_MS', 'soon', /^VMO_HEARTBEAT_MS: must be a whole number/],
    ['VMO_HEARTBEAT_MS', '1.5', /^VMO_HEARTBEAT_MS: must be a whole number/],
    ['VMO_HEARTBEAT_MS', '100', /^VMO_HEARTBEAT_MS: must be ≥ 200/],
    ['VMO_AGENT_GRACE_MS', '99999999999', /^VMO_AGENT_GRACE_MS: must be ≤ 86400000/],
    ['VMO_MAX_OUTPUT_BYTES', '-1', /^VMO_MAX_OUTPUT_BYTES: must be ≥ 1024/],
    ['VMO_OUTPUT_TAIL_BYTES', '1e3x', /^VMO_OUTPUT_TAIL_BYTES: must be a whole number/],
  ])('refuses %s=%j with one line naming it', (name, value, message) => {
    expect(() => tryParseEnv(commonSchema, { [name]: value })).toThrow(message);
    try {
      tryParseEnv(commonSchema, { [name]: value });
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
    }
  });

  describe('VMO_SECRET_KEY', () => {
    const key = '9e4c1a7f3b5d2e8a6c0f4b9d1e7a3c5f8b2d6e0a4c9f1b7d3e5a8c2f6b0d4e9a';
    it('is unset by default (secretEnv is then refused), and 64 hex characters of either case when set', () => {
      expect(tryParseEnv(commonSchema, {}).VMO_SECRET_KEY).toBeUndefined();
      expect(tryParseEnv(commonSchema, { VMO_SECRET_KEY: key }).VMO_SECRET_KEY).toBe(key);
      expect(tryParseEnv(commonSchema, { VMO_SECRET_KEY: key.toUpperCase() }).VMO_SECRET_KEY).toBe(key.toUpperCase());
    });

    it.each([
      ['too short', key.slice(2), /^VMO_SECRET_KEY: must be 64 hexadecimal characters \(32 bytes; e\.g\. openssl rand -hex 32\)$/],
      ['not hex', `${key.slice(0, 62)}zz`, /^VMO_SECRET_KEY: must be 64 hexadecimal characters/],
      ['base64 of 32 bytes', Buffer.from(key, 'hex').toString('base64'), /^VMO_SECRET_KEY: must be 64 hexadecimal characters/],
      ['not random', '0'.repeat(64), /^VMO_SECRET_KEY: must use at least 8 different characters \(it must be random/],
      ['a pattern', '0123456789abcdef'.repeat(4), /^VMO_SECRET_KEY: must not be a short string repeated/],
    ])('refuses a key that is %s, naming it and never echoing it', (_what, value, message) => {
      let error = '';
      try {
        tryParseEnv(commonSchema, { VMO_SECRET_KEY: value });
      } catch (err) {
        error = (err as Error).message;
      }
      expect(error).toMatch(message);
      expect(error).not.toContain(value);
    });
  });

  describe('Redis modes (issue 19)', () => {
    it('one node by VMO_REDIS_URL', () => {
      expect(redisTargetOf(tryParseEnv(commonSchema, { VMO_REDIS_URL: 'redis://:pw@cache:6380/2' }))).toEqual({ mode: 'single', url: 'redis://:pw@cache:6380/2' });
    });

    it('Sentinel by VMO_REDIS_SENTINELS and VMO_REDIS_SENTINEL_NAME, with the passwords apart', () => {
      const config = tryParseEnv(commonSchema, {
        VMO_REDIS_SENTINELS: 's1:26379, s2:26380,[::1]:26381',
        VMO_REDIS_SENTINEL_NAME: 'vmo-main',
        VMO_REDIS_PASSWORD: 'data-pw',
        VMO_REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
      });
      expect(redisTargetOf(config)).toEqual({
        mode: 'sentinel',
        sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: '::1', port: 26381 }],
        name: 'vmo-main',
        password: 'data-pw',
        sentinelPassword: 'sentinel-pw',
      });
    });

    it('Cluster by VMO_REDIS_CLUSTER_NODES; the prefix stays a plain name (the code adds the hash tag)', () => {
      const config = tryParseEnv(commonSchema, { VMO_REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000', VMO_REDIS_PREFIX: 'prod' });
      expect(redisTargetOf(config)).toEqual({ mode: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }] });
      expect(() => tryParseEnv(commonSchema, { VMO_REDIS_CLUSTER_NODES: 'a:1', VMO_REDIS_PREFIX: '{prod}' })).toThrow(/^VMO_REDIS_PREFIX: /);
    });

    it.each([
      [{ VMO_REDIS_URL: 'redis://a', VMO_REDIS_SENTINELS: 's:26379', VMO_REDIS_SENTINEL_NAME: 'm' }, /^VMO_REDIS_SENTINELS: set only one of VMO_REDIS_URL, VMO_REDIS_SENTINELS, VMO_REDIS_CLUSTER_NODES \(VMO_REDIS_URL and VMO_REDIS_SENTINELS are both set\)/],
      [{ VMO_REDIS_SENTINELS: 's:26379', VMO_REDIS_SENTINEL_NAME: 'm', VMO_REDIS_CLUSTER_NODES: 'c:7000' }, /^VMO_REDIS_CLUSTER_NODES: set only one of /],
      [{ VMO_REDIS_URL: 'redis://a', VMO_REDIS_CLUSTER_NODES: 'c:7000' }, /^VMO_REDIS_CLUSTER_NODES: set only one of /],
      [{ VMO_REDIS_SENTINELS: 's:26379' }, /^VMO_REDIS_SENTINEL_NAME: is required with VMO_REDIS_SENTINELS/],
      [{ VMO_REDIS_SENTINEL_NAME: 'm' }, /^VMO_REDIS_SENTINEL_NAME: is only read with VMO_REDIS_SENTINELS\b/],
      [{ VMO_REDIS_CLUSTER_NODES: 'c:7000', VMO_REDIS_SENTINEL_PASSWORD: 'x' }, /^VMO_REDIS_SENTINEL_PASSWORD: is only read with VMO_REDIS_SENTINELS\b/],
      [{ VMO_REDIS_PASSWORD: 'x' }, /^VMO_REDIS_PASSWORD: is only read with VMO_REDIS_SENTINELS or VMO_REDIS_CLUSTER_NODES/],
      [{ VMO_REDIS_SENTINELS: 's', VMO_REDIS_SENTINEL_NAME: 'm' }, /^VMO_REDIS_SENTINELS: must be a comma-separated list of host:port/],
      [{ VMO_REDIS_CLUSTER_NODES: 'c:7000,c:99999' }, /^VMO_REDIS_CLUSTER_NODES: must be a comma-separated list of host:port/],
      [{ VMO_REDIS_CLUSTER_NODES: 'redis://c:7000' }, /^VMO_REDIS_CLUSTER_NODES: must be a comma-separated list of host:port/],
      [{ VMO_REDIS_SENTINELS: 's:1', VMO_REDIS_SENTINEL_NAME: 'has space' }, /^VMO_REDIS_SENTINEL_NAME: must be a sentinel master name/],
    ])('refuses %j with one line naming the variable', (env, message) => {
      expect(() => tryParseEnv(commonSchema, env)).toThrow(message);
    });

    it('never echoes a Redis password, even a refused one', () => {
      let error = '';
      try {
        tryParseEnv(commonSchema, { VMO_REDIS_URL: 'redis://a', VMO_REDIS_PASSWORD: 'CANARY-pw-123' });
      } catch (err) {
        error = (err as Error).message;
      }
      expect(error).toMatch(/^VMO_REDIS_PASSWORD: /);
      expect(error).not.toContain('CANARY-pw-123');
    });
  });

  describe('VMO_DATABASE_URL with several hosts (issue 19)', () => {
    it('accepts a host list, read-write by default or said so', () => {
      for (const url of ['postgres://u:p@db1:5432,db2:5433/vmo', 'postgres://u@db1,db2/vmo?target_session_attrs=read-write', 'postgresql://u@[::1]:5432,db2/vmo?target_session_attrs=primary']) {
        expect(tryParseEnv(commonSchema, { VMO_DATABASE_URL: url }).VMO_DATABASE_URL).toBe(url);
      }
      expect(parsePostgresUrl('postgres://u:p%40@db1:5432,db2:5433/vmo?target_session_attrs=read-write')).toMatchObject({
        hosts: [{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }], database: 'vmo', user: 'u',
      });
      expect(parsePostgresUrl('postgres://u:p@db1:5432,db2:5433/vmo?sslmode=require')!.withDatabase('postgres')).toBe('postgres://u:p@db1:5432,db2:5433/postgres?sslmode=require');
    });

    it.each([
      ['postgres://u@db1,db2/vmo?target_session_attrs=read-only', /^VMO_DATABASE_URL: with several hosts, target_session_attrs must be read-write/],
      ['postgres://u@db1:5432,db2:99999/vmo', /^VMO_DATABASE_URL: must be a URL starting with postgres:\/\//],
      ['postgres://u@db1:5432,,db2/vmo', /^VMO_DATABASE_URL: must be a URL/],
    ])('refuses %s', (url, message) => {
      expect(() => tryParseEnv(commonSchema, { VMO_DATABASE_URL: url })).toThrow(message);
    });
  });

  it('names the first bad variable when several are bad', () => {
    expect(() => tryParseEnv(commonSchema, { VMO_REDIS_URL: 'x', VMO_HEARTBEAT_MS: 'y' })).toThrow(/^VMO_REDIS_URL: /);
  });

  it('lets a service extend the common schema', () => {
    const schema = z.object({ ...commonEnv, VMO_PORT: intVar(3121, 0, 65535) });
    expect(tryParseEnv(schema, { VMO_PORT: '0' }).VMO_PORT).toBe(0);
    expect(() => tryParseEnv(schema, { VMO_PORT: '65536' })).toThrow(/^VMO_PORT: must be ≤ 65535/);
  });
});
