import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { censorSecrets, SECRET_KEYS } from './censor.ts';

const CANARY = 'vmo-canary-censor-Qx81Lw';

/** What the services' pino logger writes, line by line. */
function capture() {
  const out: string[] = [];
  return { log: createLogger('api', 'debug', { format: 'json', destination: { write: (l: string) => void out.push(l) } }), out };
}

describe('secret keys are censored at any depth (one list, log-line/censor.ts)', () => {
  it("the services' logger: a nested token, env, a child's binding, inside arrays; never in the output", () => {
    const { log, out } = capture();
    log.info({ a: { b: { token: CANARY } } }, 'nested');
    log.info({ jobs: [{ spec: { secretEnv: { K: CANARY } } }], deep: { x: { y: { z: { Authorization: `Bearer ${CANARY}` } } } } }, 'arrays and case');
    log.child({ ctx: { password: CANARY } }).warn('binding');
    log.info({ a: { b: { c: { d: { e: { f: { g: { h: { i: { token: CANARY } } } } } } } } } }, 'too deep');
    expect(out).toHaveLength(4);
    expect(out.join('')).not.toContain(CANARY);
    const nested = JSON.parse(out[0]!) as { a: { b: { token: string } } };
    expect(nested.a.b.token).toBe('[redacted]');
    expect(JSON.parse(out[2]!)).toMatchObject({ ctx: { password: '[redacted]' }, msg: 'binding' });
  });

  it("leaves the caller's object alone and copies nothing when there is nothing to censor", () => {
    const fields = { a: { b: { token: CANARY } }, keep: { n: 1 } };
    const censored = censorSecrets(fields);
    expect(fields.a.b.token).toBe(CANARY);
    expect(censored.a.b.token).toBe('[redacted]');
    expect(censored.keep).toBe(fields.keep);
    const plain = { jobId: 'job_1', nested: { status: 'ok' } };
    expect(censorSecrets(plain)).toBe(plain);
    const err = new Error('kept whole');
    expect(censorSecrets({ err }).err).toBe(err);
  });

  it('every key of the list, whatever its case', () => {
    for (const key of SECRET_KEYS) {
      expect(censorSecrets({ x: { [key]: CANARY } }).x[key], key).toBe('[redacted]');
      expect(censorSecrets({ x: { [key.toUpperCase()]: CANARY } }).x[key.toUpperCase()], key).toBe('[redacted]');
    }
  });
});
