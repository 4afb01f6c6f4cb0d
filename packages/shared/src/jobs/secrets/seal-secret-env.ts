import type { SecretBox } from '../../secrets/secret-box.ts';

/**
 * A job's secretEnv as it is sealed: the JSON of the object, under the job's id as context (a
 * sealed value copied onto another job's row does not open there).
 */
const context = (jobId: string) => `job_secret_env:${jobId}`;

export function sealSecretEnv(box: SecretBox, jobId: string, secretEnv: Record<string, string>): Buffer {
  return box.seal(Buffer.from(JSON.stringify(secretEnv), 'utf8'), context(jobId));
}

/**
 * A run's secretEnv, sealed ONCE for all its children (run_secrets), under the run's id as
 * context: a value copied onto another run's row does not open there.
 */
const runContext = (runId: string) => `run_secret_env:${runId}`;

export function sealRunSecretEnv(box: SecretBox, runId: string, secretEnv: Record<string, string>): Buffer {
  return box.seal(Buffer.from(JSON.stringify(secretEnv), 'utf8'), runContext(runId));
}

/**
 * What a run's child hands to whoever runs it (readSealedSecretEnv): its run's sealed secretEnv
 * with the run's id in front, `52 ('R') · id length (1) · run id · sealed`, so that openSecretEnv
 * opens it under the run's context. A job's own sealed value starts with the box's version byte
 * (0x01), never 0x52. The run id comes from Postgres (the child's `run_id`), never from a client.
 */
const RUN_ENVELOPE = 0x52;

export function runSecretEnvelope(runId: string, sealed: Buffer): Buffer {
  const id = Buffer.from(runId, 'utf8');
  if (id.length > 255) throw new Error('a run id is at most 255 bytes');
  return Buffer.concat([Buffer.from([RUN_ENVELOPE, id.length]), id, sealed]);
}

/**
 * A job's secretEnv in the clear, from its own sealed value (job_secrets) or, for a run's child,
 * from the run envelope above. Throws SecretBoxError (another key, altered) or, should the
 * plaintext not be an object of strings, an Error.
 */
export function openSecretEnv(box: SecretBox, jobId: string, sealed: Buffer): Record<string, string> {
  let ctx = context(jobId);
  if (sealed[0] === RUN_ENVELOPE && sealed.length >= 2) {
    const end = 2 + sealed[1]!;
    ctx = runContext(sealed.subarray(2, end).toString('utf8'));
    sealed = sealed.subarray(end);
  }
  const text = box.open(sealed, ctx).toString('utf8');
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
