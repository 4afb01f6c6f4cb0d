import type { z } from 'zod';

/**
 * Variables that hold secrets (tokens, passwords, URLs that may carry a password). For each one
 * parseEnv also reads `<NAME>_FILE` (the Docker and systemd convention), never echoes its value in
 * an error, and takes it out of `process.env` once read, so no child process inherits it.
 */
const secrets = new WeakSet<z.ZodType>();

/** Mark a variable's schema as secret; returns the same schema. */
export function secretVar<S extends z.ZodType>(schema: S): S {
  secrets.add(schema);
  return schema;
}

/**
 * Names of the secret variables of an object schema. Also any name that looks like one (token,
 * password, passphrase, secret): an unmarked secret must not be echoed either.
 */
export function secretNames(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
  return Object.keys(shape).filter((name) => secrets.has(shape[name]!) || looksSecret(name));
}

export const looksSecret = (name: string) => /TOKEN|PASSWORD|PASSPHRASE|SECRET|CREDENTIAL|PRIVATE_KEY/i.test(name) && !name.endsWith('_FILE');
