import { describe, expect, it } from 'vitest';
import { tryParseEnv } from '@vmo/shared/config';
import { DEFAULT_CANCEL_GRACE_MS, DEFAULT_MAINTENANCE_MS, DEFAULT_WORKER_PRESENCE_TTL_MS } from '@vmo/shared/domain';
import { workerEnv } from './env.ts';
import { retentionPolicyOf } from './retention-env.ts';

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

describe('workerEnv: retention (issue 14)', () => {
  it('keeps jobs 30 days, their output as long, the audit a year, by default', () => {
    const config = tryParseEnv(workerEnv, {});
    expect(config).toMatchObject({ VMO_RETENTION_DAYS: 30, VMO_AUDIT_RETENTION_DAYS: 365, VMO_RETENTION_EVERY_MS: 60_000 });
    expect(config.VMO_OUTPUT_RETENTION_DAYS).toBeUndefined();
    expect(retentionPolicyOf(config)).toEqual({ jobDays: 30, outputDays: 30, auditDays: 365 });
  });

  it('takes output shorter than jobs, and 0 as keep forever', () => {
    expect(retentionPolicyOf(tryParseEnv(workerEnv, { VMO_RETENTION_DAYS: '90', VMO_OUTPUT_RETENTION_DAYS: '7', VMO_AUDIT_RETENTION_DAYS: '0' }))).toEqual({ jobDays: 90, outputDays: 7, auditDays: null });
    expect(retentionPolicyOf(tryParseEnv(workerEnv, { VMO_RETENTION_DAYS: '0' }))).toEqual({ jobDays: null, outputDays: null, auditDays: 365 });
    expect(retentionPolicyOf(tryParseEnv(workerEnv, { VMO_RETENTION_DAYS: '0', VMO_OUTPUT_RETENTION_DAYS: '14' }))).toEqual({ jobDays: null, outputDays: 14, auditDays: 365 });
    expect(retentionPolicyOf(tryParseEnv(workerEnv, { VMO_RETENTION_DAYS: '10', VMO_OUTPUT_RETENTION_DAYS: '0' }))).toEqual({ jobDays: 10, outputDays: null, auditDays: 365 });
  });

  it.each([
    [{ VMO_RETENTION_DAYS: 'thirty' }, /^VMO_RETENTION_DAYS: must be a whole number of days \(jobs\)/],
    [{ VMO_RETENTION_DAYS: '-1' }, /^VMO_RETENTION_DAYS: must be ≥ 0 \(0 keeps jobs forever\)/],
    [{ VMO_RETENTION_DAYS: '1.5' }, /^VMO_RETENTION_DAYS: must be a whole number of days/],
    [{ VMO_RETENTION_DAYS: '3651' }, /^VMO_RETENTION_DAYS: must be ≤ 3650/],
    [{ VMO_OUTPUT_RETENTION_DAYS: 'x' }, /^VMO_OUTPUT_RETENTION_DAYS: must be a whole number of days \(output\)/],
    [{ VMO_OUTPUT_RETENTION_DAYS: '31' }, /^VMO_OUTPUT_RETENTION_DAYS: must be at most VMO_RETENTION_DAYS \(30\): output is deleted with its job/],
    [{ VMO_RETENTION_DAYS: '7', VMO_OUTPUT_RETENTION_DAYS: '8' }, /^VMO_OUTPUT_RETENTION_DAYS: must be at most VMO_RETENTION_DAYS \(7\)/],
    [{ VMO_AUDIT_RETENTION_DAYS: '-5' }, /^VMO_AUDIT_RETENTION_DAYS: must be ≥ 0/],
    [{ VMO_AUDIT_RETENTION_DAYS: '36501' }, /^VMO_AUDIT_RETENTION_DAYS: must be ≤ 36500/],
    [{ VMO_RETENTION_EVERY_MS: '10' }, /^VMO_RETENTION_EVERY_MS: must be ≥ 100/],
  ])('refuses %j at start with one line naming the variable', (env, message) => {
    expect(() => tryParseEnv(workerEnv, env)).toThrow(message);
  });
});
