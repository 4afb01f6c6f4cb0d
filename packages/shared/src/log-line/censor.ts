/**
 * THE keys whose values are never logged, at any depth, by the services' pino logger
 * (`../logger.ts`) and the agent's writer (`services/agent/src/logger.ts`) alike: a job's env and
 * secretEnv, a token, a header, a request body, a password. Compared without case.
 */
export const SECRET_KEYS = ['token', 'authorization', 'headers', 'env', 'secretEnv', 'sealedSecretEnv', 'body', 'password', 'passphrase', 'secret', 'cookie'] as const;

/** What a censored value is written as. */
export const CENSORED = '[redacted]';

const SECRET = new Set<string>(SECRET_KEYS.map((k) => k.toLowerCase()));

export const isSecretKey = (key: string): boolean => SECRET.has(key.toLowerCase());

/** How deep the walk goes; below it a value is written as `[too deep]` (a line is not the place for a deeper object). */
export const CENSOR_MAX_DEPTH = 8;

/**
 * `fields` with the value of every secret key replaced by `[redacted]`, in nested objects and
 * arrays too. LOUD: cheap on the common path: nothing is copied unless something in it is
 * censored (an object with no secret key is returned as it is), and the caller's object is never
 * changed. Errors are left whole: the loggers' error serializers keep only what names them.
 */
export function censorSecrets<T>(fields: T, depth = 0): T {
  if (fields === null || typeof fields !== 'object' || fields instanceof Error || fields instanceof Date) return fields;
  if (depth >= CENSOR_MAX_DEPTH) return '[too deep]' as T;
  if (Array.isArray(fields)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < fields.length; i++) {
      const value = censorSecrets(fields[i] as unknown, depth + 1);
      if (value !== fields[i]) (copy ??= [...fields])[i] = value;
    }
    return (copy ?? fields) as T;
  }
  let copy: Record<string, unknown> | undefined;
  const source = fields as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const value = source[key];
    const censored = value !== undefined && isSecretKey(key) ? CENSORED : censorSecrets(value, depth + 1);
    if (censored !== value) (copy ??= { ...source })[key] = censored;
  }
  return (copy ?? fields) as T;
}
