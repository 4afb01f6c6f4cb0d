/**
 * SHELL.md §S6/§S7: the recording path of a shell's output is bounded in memory. A session running
 * `yes` while Postgres does not answer (or nobody is attached to pause it) queues at most
 * SHELL_RECORD_BACKLOG_BYTES here; the output is still relayed, and the recording resumes once the
 * store answers. The store is a stand-in that can stall: the bound is about this process.
 */
import { describe, expect, it, vi } from 'vitest';
import { encodeShellOutputFrame } from '@vmo/shared/protocol';
import { keys } from '@vmo/shared/redis';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import { SHELL_RECORD_BACKLOG_BYTES, ShellRelayHolder } from './shell-relay-holder.ts';

function stallingStore() {
  let stalled = true;
  const waiting: (() => void)[] = [];
  const stored: number[] = [];
  const sql = (strings: TemplateStringsArray, ...values: unknown[]) => {
    const text = strings.join('?');
    if (text.includes('select target_id')) return Promise.resolve([{ target_id: 'agt_1' }]);
    if (text.includes('insert into shell_output')) {
      const answer = () => {
        stored.push(values[2] as number);
        return [1];
      };
      return stalled ? new Promise((resolve) => waiting.push(() => resolve(answer()))) : Promise.resolve(answer());
    }
    return Promise.resolve([]);
  };
  return {
    sql,
    stored,
    resume() {
      stalled = false;
      for (const go of waiting.splice(0)) go();
    },
  };
}

describe('ShellRelayHolder recording backlog (SHELL.md §S7)', () => {
  it('a stalled store holds at most SHELL_RECORD_BACKLOG_BYTES per session; the output is still relayed; recording resumes when it answers', async () => {
    const store = stallingStore();
    let published = 0;
    const cp = {
      database: { sql: store.sql },
      redis: { publish: async () => ((published += 1), 1) },
      keys: keys('t'),
      limits: { maxOutputBytes: 1024 * 1024 * 1024, tailBytes: 0, agentGraceMs: 0, heartbeatMs: 0 },
    } as unknown as ControlPlane;
    const warn = vi.fn();
    const log = { warn, info: () => {}, debug: () => {}, error: () => {} } as unknown as Logger;
    const holder = new ShellRelayHolder('agt_1', new Set(['shell']), { cp, log });
    const session = 'shs_0123456789abcdefghij';
    const chunk = Buffer.alloc(64 * 1024, 'y');
    const frames = 1600; // 100 MiB of `yes`
    for (let i = 0; i < frames; i++) expect(holder.output(encodeShellOutputFrame({ session, offset: i * chunk.length, data: chunk }))).toBeUndefined();
    await vi.waitFor(() => expect(published).toBe(frames), { timeout: 10_000 });
    expect(holder.recordBacklogBytes).toBeLessThanOrEqual(SHELL_RECORD_BACKLOG_BYTES);
    expect(holder.recordBacklogBytes).toBeGreaterThan(SHELL_RECORD_BACKLOG_BYTES / 2);
    expect(warn).toHaveBeenCalledTimes(1);
    store.resume();
    await vi.waitFor(() => expect(holder.recordBacklogBytes).toBe(0), { timeout: 10_000 });
    // What was queued is stored, in order, from the start; then a gap; then new output is recorded again.
    const kept = SHELL_RECORD_BACKLOG_BYTES / chunk.length;
    expect(store.stored).toEqual(Array.from({ length: kept }, (_, i) => i * chunk.length));
    holder.output(encodeShellOutputFrame({ session, offset: frames * chunk.length, data: chunk }));
    await vi.waitFor(() => expect(store.stored.at(-1)).toBe(frames * chunk.length), { timeout: 10_000 });
  });
});
