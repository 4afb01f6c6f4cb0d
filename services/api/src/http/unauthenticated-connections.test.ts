import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { addressKey, isRefused, markAuthenticated, UnauthenticatedConnections } from './unauthenticated-connections.ts';

describe('addressKey: what the per-address limit counts', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('%s counts as %s', (address, key) => expect(addressKey(address)).toBe(key));

  it('counts two addresses of one /64 together, and of two /64s apart', () => {
    expect(addressKey('2001:db8:1:2::a')).toBe(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::a')).not.toBe(addressKey('2001:db8:1:3::a'));
  });
});

describe('UnauthenticatedConnections: slow connections that count against the limit', () => {
  /** Just what the tracker touches of a socket; the real sockets are in slow-connections.e2e. */
  class FakeSocket extends EventEmitter {
    destroyed = false;
    written = '';
    constructor(readonly remoteAddress: string) {
      super();
    }
    end(data?: string) {
      if (data) this.written += data;
    }
    destroySoon() {
      this.close();
    }
    close() {
      if (this.destroyed) return;
      this.destroyed = true;
      this.emit('close');
    }
  }
  const SLOW_MS = 1000;
  const log = pino({ level: 'silent' });
  const sock = (s: FakeSocket) => s as unknown as Socket;
  const open = (limit: UnauthenticatedConnections, address = '10.0.0.1') => {
    const s = new FakeSocket(address);
    limit.admit(sock(s));
    return s;
  };
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('counts a connection once it has waited slowAfterMs; the (max+1)th slow one of an address gets a 429 and is closed', () => {
    const limit = new UnauthenticatedConnections(2, SLOW_MS, log);
    const [a, b] = [open(limit), open(limit)];
    vi.advanceTimersByTime(SLOW_MS - 1);
    expect(limit.count('10.0.0.1')).toBe(0);
    vi.advanceTimersByTime(1);
    expect(limit.count('10.0.0.1')).toBe(2);
    const c = open(limit); // accepted: a new connection is not slow yet
    const other = open(limit, '10.0.0.2');
    expect(c.destroyed).toBe(false);
    vi.advanceTimersByTime(SLOW_MS);
    expect(c.written).toMatch(/^HTTP\/1\.1 429 /);
    expect(c.destroyed).toBe(true);
    expect(isRefused(sock(c))).toBe(true);
    expect([a, b, other].some((s) => s.destroyed)).toBe(false);
    expect(limit.count('10.0.0.2')).toBe(1);
  });

  it('does not count a burst that sends its requests promptly', () => {
    const limit = new UnauthenticatedConnections(2, SLOW_MS, log);
    const burst = Array.from({ length: 200 }, () => open(limit));
    vi.advanceTimersByTime(10);
    for (const s of burst) limit.serving(sock(s));
    vi.advanceTimersByTime(SLOW_MS * 5);
    expect(burst.some((s) => s.destroyed)).toBe(false);
    expect(limit.count('10.0.0.1')).toBe(0);
  });

  it('counts a slow connection off when it closes, is served, or is authenticated; an answered one waits again', () => {
    const limit = new UnauthenticatedConnections(3, SLOW_MS, log);
    const [closing, authed, served] = [open(limit), open(limit), open(limit)];
    vi.advanceTimersByTime(SLOW_MS);
    expect(limit.count('10.0.0.1')).toBe(3);
    closing.close();
    markAuthenticated(sock(authed));
    limit.serving(sock(served));
    expect(limit.count('10.0.0.1')).toBe(0);
    // Answered without authenticating: waiting again, slow again later; an authenticated one never.
    limit.waiting(sock(served));
    limit.serving(sock(authed));
    limit.waiting(sock(authed));
    vi.advanceTimersByTime(SLOW_MS);
    expect(limit.count('10.0.0.1')).toBe(1);
    served.close();
    expect(limit.count('10.0.0.1')).toBe(0);
  });

  it('counts nothing when the limit is 0 (off)', () => {
    const limit = new UnauthenticatedConnections(0, SLOW_MS, log);
    const all = Array.from({ length: 100 }, () => open(limit));
    vi.advanceTimersByTime(SLOW_MS * 2);
    expect(all.some((s) => s.destroyed)).toBe(false);
    expect(limit.count('10.0.0.1')).toBe(0);
  });
});
