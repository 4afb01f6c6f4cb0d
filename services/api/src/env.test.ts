import { describe, expect, it } from 'vitest';
import { tryParseEnv } from '@vmo/shared/config';
import { apiEnv } from './env.ts';

describe('apiEnv: connection deadlines and limits (issue 8 #9)', () => {
  it('has defaults that cut slow clients and keep real ones', () => {
    expect(tryParseEnv(apiEnv, {})).toMatchObject({
      VMO_HEADERS_TIMEOUT_MS: 10_000,
      VMO_REQUEST_TIMEOUT_MS: 60_000,
      VMO_KEEP_ALIVE_TIMEOUT_MS: 5_000,
      VMO_IDLE_TIMEOUT_MS: 60_000,
      VMO_UPGRADE_TIMEOUT_MS: 10_000,
      VMO_MAX_UNAUTH_CONNECTIONS_PER_IP: 64,
    });
  });

  it('reads given values, and 0 turns the per-address limit off', () => {
    const config = tryParseEnv(apiEnv, { VMO_HEADERS_TIMEOUT_MS: '1000', VMO_REQUEST_TIMEOUT_MS: '1000', VMO_MAX_UNAUTH_CONNECTIONS_PER_IP: '0' });
    expect(config).toMatchObject({ VMO_HEADERS_TIMEOUT_MS: 1000, VMO_REQUEST_TIMEOUT_MS: 1000, VMO_MAX_UNAUTH_CONNECTIONS_PER_IP: 0 });
  });

  it.each([
    [{ VMO_HEADERS_TIMEOUT_MS: '0' }, /^VMO_HEADERS_TIMEOUT_MS: must be ≥ 100/],
    [{ VMO_IDLE_TIMEOUT_MS: 'soon' }, /^VMO_IDLE_TIMEOUT_MS: must be a whole number/],
    [{ VMO_MAX_UNAUTH_CONNECTIONS_PER_IP: '-1' }, /^VMO_MAX_UNAUTH_CONNECTIONS_PER_IP: must be ≥ 0/],
    [{ VMO_HEADERS_TIMEOUT_MS: '20000', VMO_REQUEST_TIMEOUT_MS: '10000' }, /^VMO_REQUEST_TIMEOUT_MS: must be at least VMO_HEADERS_TIMEOUT_MS/],
  ])('refuses %j with one line naming the variable', (env, message) => {
    expect(() => tryParseEnv(apiEnv, env)).toThrow(message);
  });
});

describe('apiEnv: the agent intervals and their relation (domain/timings.ts)', () => {
  it('refuses a lost-agent grace at or below the presence TTL, naming VMO_AGENT_GRACE_MS', () => {
    expect(() => tryParseEnv(apiEnv, { VMO_HEARTBEAT_MS: '10000', VMO_AGENT_GRACE_MS: '20000' })).toThrow(
      /^VMO_AGENT_GRACE_MS: must be more than the agent presence TTL \(2 × VMO_HEARTBEAT_MS = 20000 ms\)/,
    );
    expect(tryParseEnv(apiEnv, { VMO_HEARTBEAT_MS: '10000', VMO_AGENT_GRACE_MS: '20001' })).toMatchObject({ VMO_AGENT_GRACE_MS: 20_001 });
  });
});

describe('apiEnv: VMO_MAX_RUN_TARGETS (issue 10)', () => {
  it('defaults to 10,000 targets a run and refuses 0, naming the variable', () => {
    expect(tryParseEnv(apiEnv, {})).toMatchObject({ VMO_MAX_RUN_TARGETS: 10_000 });
    expect(tryParseEnv(apiEnv, { VMO_MAX_RUN_TARGETS: '3' })).toMatchObject({ VMO_MAX_RUN_TARGETS: 3 });
    expect(() => tryParseEnv(apiEnv, { VMO_MAX_RUN_TARGETS: '0' })).toThrow(/^VMO_MAX_RUN_TARGETS: must be ≥ 1/);
  });
});
