import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from '../../secrets/secret-box.ts';
import { openSecretEnv, runSecretEnvelope, sealRunSecretEnv, sealSecretEnv } from './seal-secret-env.ts';

const box = new SecretBox(randomBytes(32));
const env = { TOKEN: 'a-secret-value' };

describe("a run's secretEnv, sealed once for every child", () => {
  it("opens for any of the run's children through the envelope readSealedSecretEnv hands out", () => {
    const envelope = runSecretEnvelope('run_aaaaaaaaaaaaaaaaaaaa', sealRunSecretEnv(box, 'run_aaaaaaaaaaaaaaaaaaaa', env));
    expect(openSecretEnv(box, 'job_child0000000000001', envelope)).toEqual(env);
    expect(openSecretEnv(box, 'job_child0000000000002', envelope)).toEqual(env);
  });

  it("does not open under another run's id, nor as a job's own sealed value", () => {
    const sealed = sealRunSecretEnv(box, 'run_aaaaaaaaaaaaaaaaaaaa', env);
    expect(() => openSecretEnv(box, 'job_x', runSecretEnvelope('run_bbbbbbbbbbbbbbbbbbbb', sealed))).toThrow(SecretBoxError);
    expect(() => openSecretEnv(box, 'run_aaaaaaaaaaaaaaaaaaaa', sealed)).toThrow(SecretBoxError);
  });

  it("leaves a job's own sealed value as it was", () => {
    expect(openSecretEnv(box, 'job_one', sealSecretEnv(box, 'job_one', env))).toEqual(env);
    expect(() => openSecretEnv(box, 'job_two', sealSecretEnv(box, 'job_one', env))).toThrow(SecretBoxError);
  });
});
