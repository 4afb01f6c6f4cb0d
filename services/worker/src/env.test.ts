import { describe, expect, it } from 'vitest';
import { tryParseEnv } from '@vmo/shared/config';
import { DEFAULT_CANCEL_GRACE_MS, DEFAULT_MAINTENANCE_MS, DEFAULT_WORKER_PRESENCE_TTL_MS } from '@vmo/shared/domain';
import { workerEnv } from './env.ts';

describe('workerEnv: intervals and their relations (domain/timings.ts)', () => {
  it('has the defaults of domain/timings.ts', () => {
    expect(tryParseEnv(workerEnv, {})).toMatchObject({
      VMO_HEARTBEAT_MS: 10_000,
      VMO_AGENT_GRACE_MS: 120_000,
      VMO_WORKER_PRESENCE_TTL_MS: DEFAULT_WORKER_PRESENCE_TTL_MS,
      VMO_MAINTENANCE_MS: DEFAULT_MAINTENANCE_MS,
      VMO_WORKER_LOCK_MS: 30_000,
      VMO_DISPATCH_TIMEOUT_MS: 600_000,
      VMO_SSH_IDLE_MS: 60_000,
    });
    expect(DEFAULT_CANCEL_GRACE_MS).toBe(10_000);
  });

  it.each([
    [{ VMO_AGENT_GRACE_MS: '5000', VMO_MAINTENANCE_MS: '5000' }, /^VMO_AGENT_GRACE_MS: must be more than the agent presence TTL \(2 × VMO_HEARTBEAT_MS = 20000 ms\)/],
    [{ VMO_AGENT_GRACE_MS: '60000', VMO_MAINTENANCE_MS: '60000' }, /^VMO_MAINTENANCE_MS: must be less than VMO_AGENT_GRACE_MS \(60000 ms\)/],
    [{ VMO_WORKER_PRESENCE_TTL_MS: '1000', VMO_MAINTENANCE_MS: '2000' }, /^VMO_MAINTENANCE_MS: must be less than 2 × VMO_WORKER_PRESENCE_TTL_MS \(2000 ms\)/],
  ])('refuses %j with one line naming the variable', (env, message) => {
    expect(() => tryParseEnv(workerEnv, env)).toThrow(message);
  });

  it('accepts the fast settings the fault tests use', () => {
    expect(() => tryParseEnv(workerEnv, { VMO_HEARTBEAT_MS: '500', VMO_AGENT_GRACE_MS: '8000', VMO_WORKER_PRESENCE_TTL_MS: '1500', VMO_MAINTENANCE_MS: '500', VMO_WORKER_LOCK_MS: '4000' })).not.toThrow();
  });
});
