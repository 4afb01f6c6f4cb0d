import type { z } from 'zod';
import { readSecretFiles, SecretFileError } from './secret-files.ts';
import { secretNames } from './secret-var.ts';

/**
 * Secrets this process has taken out of `process.env` (see scrubSecrets), by name: a later parse
 * in the same process (`npm start` parses the API's and the worker's schema) still finds them.
 */
const taken = new Map<string, string>();

/**
 * Parse the environment once at start. A bad value stops the process with one readable line
 * naming the variable and what was expected, never a stack trace, and never a secret's value.
 *
 * Secret variables (secretVar) may be given as `<NAME>_FILE`; once parsed they are deleted from
 * `process.env`, so no child process (a job, ssh, anything spawned later) inherits them.
 * `/proc/<pid>/environ` of this process still shows the environment it was started with: that
 * is what `_FILE` and a separate job user (VMO_RUN_AS) are for.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const fromProcess = env === process.env;
  const names = secretNames(schema);
  try {
    const { config, input } = loadEnv(schema, fromProcess ? { ...env, ...Object.fromEntries(taken) } : env, names);
    if (fromProcess) scrubSecrets(names, input);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`vmo: invalid configuration: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
}

/** Thrown-variant for tests and for callers that want to handle the failure; `process.env` is left as it is. */
export function tryParseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  return loadEnv(schema, env, secretNames(schema)).config;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function loadEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, secrets: string[]): { config: z.infer<S>; input: Record<string, string | undefined> } {
  let input: Record<string, string | undefined>;
  try {
    input = readSecretFiles(env, secrets);
  } catch (err) {
    if (err instanceof SecretFileError) throw new ConfigError(err.message);
    throw err;
  }
  const result = schema.safeParse(input);
  if (result.success) return { config: result.data, input };
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? 'environment');
  const where = env[`${name}_FILE`] !== undefined ? `${name} (read from ${name}_FILE)` : name;
  // LOUD: a secret's value is never shown, not even a bad one: it may be the real secret with a typo.
  const value = input[name];
  const shown = secrets.includes(name) || value === undefined || issue.message.includes(value) ? '' : ` (got ${JSON.stringify(value)})`;
  throw new ConfigError(`${where}: ${issue.message}${shown}`);
}

/**
 * Delete the secret variables (and their `_FILE` forms) from `process.env` once they are read, so
 * children never inherit them. Values are kept for a later parse in this process only.
 */
export function scrubSecrets(names: readonly string[], values: Record<string, string | undefined> = {}): void {
  for (const name of names) {
    const value = values[name] ?? process.env[name];
    if (typeof value === 'string') taken.set(name, value);
    delete process.env[name];
    delete process.env[`${name}_FILE`];
  }
}
