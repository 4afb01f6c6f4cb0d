import { describe, expect, it } from 'vitest';
import { sessionEnd } from './sessions.ts';

const ended = '2026-12-01T10:00:00.000Z';

describe('sessionEnd: the END column of vmo sessions', () => {
  it('open, a program\'s end by its code or signal, a holder\'s end by its reason', () => {
    expect(sessionEnd({ endedAt: null, endReason: null, exitCode: null, signal: null })).toBe('open');
    expect(sessionEnd({ endedAt: ended, endReason: 'exited', exitCode: 7, signal: null })).toBe('exit 7');
    expect(sessionEnd({ endedAt: ended, endReason: 'exited', exitCode: null, signal: 'SIGHUP' })).toBe('SIGHUP');
    expect(sessionEnd({ endedAt: ended, endReason: 'lost', exitCode: null, signal: null })).toBe('lost');
    // A stopping node hangs its host shells up (SIGHUP): the reason says it was the node, not a reap.
    expect(sessionEnd({ endedAt: ended, endReason: 'server_restarted', exitCode: null, signal: 'SIGHUP' })).toBe('server_restarted');
    expect(sessionEnd({ endedAt: ended, endReason: 'server_lost', exitCode: null, signal: null })).toBe('server_lost');
    // Ended before reasons were recorded.
    expect(sessionEnd({ endedAt: ended, endReason: null, exitCode: 0, signal: null })).toBe('exit 0');
    expect(sessionEnd({ endedAt: ended, endReason: null, exitCode: null, signal: null })).toBe('ended');
  });
});
