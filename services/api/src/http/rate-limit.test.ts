import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { tryParseEnv } from '@vmo/shared/config';
import { createRedis, keys as keysFor, type Redis } from '@vmo/shared/redis';
import { createTestPrefix, TcpProxy, TEST_REDIS_URL, waitFor } from '@vmo/testkit';
import { hashToken } from '@vmo/shared/tokens';
import { apiEnv } from '../env.ts';
import { RateLimiter } from './rate-limit.ts';
import type { IncomingMessage } from 'node:http';
import { ProxyIdentity } from '../auth/proxy-identity.ts';
import { parseCidrs, TrustedProxies, type Cidr } from '../auth/trusted-proxies.ts';
import { credentialKey, failedAuthAddress, FailedAuthLimiter } from './rate-limit-auth.ts';

describe('VMO_SUBMIT_RATE and VMO_AUTH_FAIL_RATE', () => {
  it('default to submissions unlimited and 30 failed authentications a minute per address', () => {
    expect(tryParseEnv(apiEnv, {})).toMatchObject({ VMO_SUBMIT_RATE: null, VMO_AUTH_FAIL_RATE: { limit: 30, windowMs: 60_000 } });
  });

  it.each([
    ['100/10s', { limit: 100, windowMs: 10_000 }],
    ['20/1m', { limit: 20, windowMs: 60_000 }],
    ['5/s', { limit: 5, windowMs: 1000 }],
    ['1000/500ms', { limit: 1000, windowMs: 500 }],
    [' 3/2H ', { limit: 3, windowMs: 7_200_000 }],
    ['OFF', null],
  ])('read %j', (value, rate) => {
    expect(tryParseEnv(apiEnv, { VMO_SUBMIT_RATE: value, VMO_AUTH_FAIL_RATE: value })).toMatchObject({ VMO_SUBMIT_RATE: rate, VMO_AUTH_FAIL_RATE: rate });
  });

  it.each(['100', '100/', '0/1m', '-1/1m', '10/10', '10/10d', '10/50ms', '10/25h', 'ten/1m', '10 per minute', ''])('refuse %j with one line naming the variable', (value) => {
    expect(() => tryParseEnv(apiEnv, { VMO_SUBMIT_RATE: value })).toThrow(/^VMO_SUBMIT_RATE: must be <count>\/<window> such as 100\/10s or 20\/1m/);
    expect(() => tryParseEnv(apiEnv, { VMO_AUTH_FAIL_RATE: value })).toThrow(/^VMO_AUTH_FAIL_RATE: must be <count>\/<window>/);
  });
});

describe('failedAuthAddress: the address failures count against', () => {
  const proxy = new ProxyIdentity(undefined as never, { trusted: new TrustedProxies(parseCidrs('10.0.0.0/8') as Cidr[]), userHeader: 'X-VM-User', emailHeader: 'X-VM-Email', defaultRole: 'viewer' });
  const request = (peer: string, forwardedFor?: string | string[]) =>
    ({ headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }, socket: { remoteAddress: peer } }) as unknown as IncomingMessage;

  it("behind a trusted proxy, the client it forwarded for (the first entry from the right that is not a trusted proxy); two clients of one proxy count apart", () => {
    expect(failedAuthAddress(request('10.0.0.5', '198.51.100.1'), proxy)).toBe('198.51.100.1');
    expect(failedAuthAddress(request('::ffff:10.0.0.5', '198.51.100.2'), proxy)).toBe('198.51.100.2');
    // A client's own (forged) entries are left of what the proxy appended: they prove nothing.
    expect(failedAuthAddress(request('10.0.0.5', '203.0.113.77, 198.51.100.1, 10.0.0.6'), proxy)).toBe('198.51.100.1');
    expect(failedAuthAddress(request('10.0.0.5', ['203.0.113.77', '198.51.100.1']), proxy)).toBe('198.51.100.1');
    // Nothing forwarded: the proxy itself.
    expect(failedAuthAddress(request('10.0.0.5'), proxy)).toBe('10.0.0.5');
  });

  it("any other peer is the address whatever X-Forwarded-For it sends, and with no trusted proxies configured nobody's header is read", () => {
    expect(failedAuthAddress(request('203.0.113.9', '198.51.100.1'), proxy)).toBe('203.0.113.9');
    expect(failedAuthAddress(request('::ffff:203.0.113.9', '10.0.0.5'), proxy)).toBe('203.0.113.9');
    expect(failedAuthAddress(request('10.0.0.5', '198.51.100.1'), undefined)).toBe('10.0.0.5');
    expect(failedAuthAddress(undefined, proxy)).toBeUndefined();
  });
});

describe('RateLimiter on Redis', () => {
  const prefix = createTestPrefix('rate_limit');
  const keys = keysFor(prefix.prefix);
  let redis: Redis;
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });

  beforeAll(() => {
    redis = createRedis(TEST_REDIS_URL, { enableOfflineQueue: false });
    return waitFor('redis', () => redis.status === 'ready');
  });
  afterAll(async () => {
    redis.disconnect();
    await prefix.cleanup();
  });

  it('allows `limit` events per window and refuses the next with the time left; keys are independent', async () => {
    const limiter = new RateLimiter(redis, log);
    const rate = { limit: 3, windowMs: 60_000 };
    const key = keys.rateLimit('test', 'a');
    for (let i = 0; i < 3; i++) expect((await limiter.hit(key, rate)).allowed).toBe(true);
    const refused = await limiter.hit(key, rate);
    expect(refused.allowed).toBe(false);
    expect(refused.resetMs).toBeGreaterThan(0);
    expect(refused.resetMs).toBeLessThanOrEqual(60_000);
    expect((await limiter.hit(keys.rateLimit('test', 'b'), rate)).allowed).toBe(true);
    // The counter lives under the installation's prefix and expires with its window.
    expect(Number(await redis.get(key))).toBe(4);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('starts again once the window is over', async () => {
    const limiter = new RateLimiter(redis, log);
    const rate = { limit: 1, windowMs: 300 };
    const key = keys.rateLimit('test', 'short');
    expect((await limiter.hit(key, rate)).allowed).toBe(true);
    expect((await limiter.hit(key, rate)).allowed).toBe(false);
    await waitFor('the window to end', async () => (await redis.exists(key)) === 0, 10_000);
    expect((await limiter.hit(key, rate)).allowed).toBe(true);
  });

  it('repairs a counter left without an expiry rather than refusing forever', async () => {
    const limiter = new RateLimiter(redis, log);
    const key = keys.rateLimit('test', 'no-ttl');
    await redis.set(key, '100');
    expect((await limiter.hit(key, { limit: 1, windowMs: 60_000 })).allowed).toBe(false);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  });

  it('fails open while Redis is cut or stalled (one warning for the outage), and enforces limits again once it is back (one line)', async () => {
    const proxy = await TcpProxy.start(Number(new URL(TEST_REDIS_URL).port || 6379), new URL(TEST_REDIS_URL).hostname);
    const viaProxy = createRedis(`redis://127.0.0.1:${proxy.port}`, { enableOfflineQueue: false, retryStrategy: () => 50 });
    viaProxy.on('error', () => {});
    lines.length = 0;
    try {
      await waitFor('redis through the proxy', () => viaProxy.status === 'ready');
      const limiter = new RateLimiter(viaProxy, log);
      const rate = { limit: 1, windowMs: 60_000 };
      const key = keys.rateLimit('test', 'outage');
      expect((await limiter.hit(key, rate)).allowed).toBe(true);
      expect((await limiter.hit(key, rate)).allowed).toBe(false);

      proxy.cut();
      for (let i = 0; i < 5; i++) expect((await limiter.hit(key, rate)).allowed).toBe(true);
      proxy.restore();
      await waitFor('redis back', () => viaProxy.status === 'ready', 20_000);
      // A Redis that holds its answer past the deadline does not hold the request: let through.
      proxy.stall();
      const started = Date.now();
      expect((await limiter.hit(key, rate)).allowed).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
      proxy.restore();
      expect(lines.filter((l) => /not enforced/.test(l.msg))).toHaveLength(1);

      await waitFor('limits enforced again', async () => (await limiter.hit(key, rate)).allowed === false, 20_000);
      expect(lines.filter((l) => /enforced again/.test(l.msg))).toHaveLength(1);
    } finally {
      viaProxy.disconnect();
      await proxy.close();
    }
  });

  it('FailedAuthLimiter: past the limit it answers 429 with Retry-After, and blocks the address on this node before any token is looked at', async () => {
    const failures = new FailedAuthLimiter(new RateLimiter(redis, log), keys, { limit: 2, windowMs: 60_000 });
    expect(await failures.failed('127.0.0.9')).toBeUndefined();
    expect(await failures.failed('::ffff:127.0.0.9')).toBeUndefined(); // the same address, mapped into IPv6
    expect(failures.refusal('127.0.0.9')).toBeUndefined();
    const over = await failures.failed('127.0.0.9');
    expect(over).toMatchObject({ status: 429, code: 'rate_limited', details: { retryAfterSeconds: expect.any(Number) } });
    expect(over!.details!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(over!.details!.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(failures.refusal('127.0.0.9')).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(failures.refusal('127.0.0.10')).toBeUndefined();
    // IPv6 addresses count by /64.
    for (const a of ['2001:db8::1', '2001:db8::2']) expect(await failures.failed(a)).toBeUndefined();
    expect(await failures.failed('2001:db8:0:0:ffff::3')).toMatchObject({ status: 429 });
    expect(failures.refusal('2001:db8::4')).toMatchObject({ status: 429 });
  });
  it('FailedAuthLimiter per credential: one token failing from many addresses is 429 from any address, before it is looked at; other tokens are untouched; Redis never holds the token or its stored hash', async () => {
    const failures = new FailedAuthLimiter(new RateLimiter(redis, log), keys, { limit: 3, windowMs: 60_000 });
    const guessed = 'vmo_usr_' + 'g'.repeat(43);
    const other = 'vmo_usr_' + 'o'.repeat(43);
    // Three addresses, one failure each: no address is near its limit, the credential is at it.
    for (const a of ['10.1.0.1', '10.1.0.2', '10.1.0.3']) expect(await failures.failed(a, guessed)).toBeUndefined();
    const over = await failures.failed('10.1.0.4', guessed);
    expect(over).toMatchObject({ status: 429, code: 'rate_limited', message: expect.stringMatching(/with this credential/) });
    expect(over!.details!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(over!.details!.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Held up on this node from a fresh address, before any lookup; another credential from the same addresses is not.
    expect(failures.refusal('10.1.0.99', guessed)).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(failures.refusal('10.1.0.4', other)).toBeUndefined();
    expect(await failures.failed('10.1.0.5', other)).toBeUndefined();
    // The address limit still holds on its own (address 10.1.0.4 has 1 failure; 2 more reach 3, the next is over).
    expect(await failures.failed('10.1.0.4', 'vmo_usr_a')).toBeUndefined();
    expect(await failures.failed('10.1.0.4', 'vmo_usr_b')).toBeUndefined();
    expect(await failures.failed('10.1.0.4', 'vmo_usr_c')).toMatchObject({ status: 429, message: expect.stringMatching(/from your address/) });
    // The count is keyed on a 96-bit prefix of a hash of its own: neither the token nor sha256(token) (what Postgres looks tokens up by).
    const key = keys.rateLimit('auth-fail-cred', credentialKey(guessed));
    expect(Number(await redis.get(key))).toBe(4);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    const stored = await redis.keys(`${prefix.prefix}:rl:auth-fail-cred:*`);
    expect(stored.length).toBeGreaterThan(0);
    for (const k of stored) {
      expect(k).not.toContain(guessed.slice(8, 20));
      expect(k).not.toContain(hashToken(guessed).slice(0, 12));
    }
    expect(credentialKey(guessed)).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(credentialKey(guessed)).not.toBe(credentialKey(other));
  });
});

