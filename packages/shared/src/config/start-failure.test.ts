import { describe, expect, it } from 'vitest';
import { explainStartFailure, StartFailure } from './start-failure.ts';

const settings = { VMO_DATABASE_URL: 'postgres://vmo:hunter2-secret@db.internal:5433/vmo', VMO_REDIS_URL: 'redis://:redis-secret@cache:6380', VMO_PORT: 3121, VMO_METRICS_PORT: 9464, VMO_HOST: '10.9.9.9' };
const sysErr = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${code} happened`), { code, ...extra });
const pgErr = (code: string, message: string) => Object.assign(new Error(message), { name: 'PostgresError', code, severity: 'FATAL' });

describe('explainStartFailure: one line naming the cause and the setting (issue 12)', () => {
  it('names the variable whose port is taken, and the address that is not ours', () => {
    expect(explainStartFailure(sysErr('EADDRINUSE', { syscall: 'listen', port: 9464 }), settings)?.message).toMatch(/port 9464 is in use.*set VMO_METRICS_PORT$/);
    expect(explainStartFailure(sysErr('EACCES', { syscall: 'listen', port: 3121 }), settings)).toMatchObject({ exitCode: 78, message: expect.stringMatching(/port 3121.*set VMO_PORT$/) });
    expect(explainStartFailure(sysErr('EADDRNOTAVAIL', { syscall: 'listen', port: 3121 }), settings)?.message).toBe('10.9.9.9 is not an address of this machine: set VMO_HOST');
  });

  it('tells Postgres from Redis by the port, and never shows a password', () => {
    const pg = explainStartFailure(sysErr('ECONNREFUSED', { syscall: 'connect', address: '10.0.0.5', port: 5433 }), settings)!;
    expect(pg).toMatchObject({ exitCode: 69, message: expect.stringMatching(/^Postgres refused the connection at db\.internal:5433 .*VMO_DATABASE_URL$/) });
    const redis = explainStartFailure(sysErr('ETIMEDOUT', { port: 6380 }), settings)!;
    expect(redis.message).toMatch(/^Redis at cache:6380 did not answer \(ETIMEDOUT\).*VMO_REDIS_URL$/);
    expect(explainStartFailure(sysErr('ENOTFOUND', { hostname: 'db.internal' }), settings)).toMatchObject({ exitCode: 78, message: 'Postgres host "db.internal" is unknown (no such name): set VMO_DATABASE_URL' });
    const password = explainStartFailure(pgErr('28P01', 'password authentication failed for user "vmo"'), settings)!;
    expect(password).toMatchObject({ exitCode: 78, message: expect.stringMatching(/refused the password of role "vmo": set VMO_DATABASE_URL/) });
    for (const f of [pg, redis, password]) expect(f.message).not.toMatch(/hunter2|redis-secret/);
  });

  it('leaves anything else (a bug) to the caller, which keeps its stack', () => {
    expect(explainStartFailure(new TypeError('x is undefined'), settings)).toBeUndefined();
    expect(explainStartFailure('a string', settings)).toBeUndefined();
    const given = new StartFailure('Redis refused', 69);
    expect(explainStartFailure(given, settings)).toBe(given);
  });
});
