import type { SecretBox } from '../../secrets/secret-box.ts';

/**
 * A job's secretEnv as it is sealed: the JSON of the object, under the job's id as context (a
 * sealed value copied onto another job's row does not open there).
 */
const context = (jobId: string) => `job_secret_env:${jobId}`;

export function sealSecretEnv(box: SecretBox, jobId: string, secretEnv: Record<string, string>): Buffer {
  return box.seal(Buffer.from(JSON.stringify(secretEnv), 'utf8'), context(jobId));
}

/** Throws SecretBoxError (another key, altered) or, should the plaintext not be an object of strings, an Error. */
export function openSecretEnv(box: SecretBox, jobId: string, sealed: Buffer): Record<string, string> {
  const text = box.open(sealed, context(jobId)).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text it choked on.
    throw new Error('the opened secretEnv is not JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new Error('the opened secretEnv is not an object of strings');
  }
  return value as Record<string, string>;
}

/**
 * The Idempotency-Key request hash of a body with secrets hashes this in place of the values:
 * a keyed digest, so the stored hash is no way to test guesses of a short secret.
 */
export function secretEnvDigest(box: SecretBox, secretEnv: Record<string, string>): string {
  const canonical = JSON.stringify(Object.keys(secretEnv).sort().map((k) => [k, secretEnv[k]]));
  return box.digest(canonical, 'idempotency secretEnv');
}
