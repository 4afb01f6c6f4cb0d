import { z } from 'zod';

/**
 * Parse the environment once at start. A bad value stops the process with one readable
 * line naming the variable and what was expected, never a stack trace.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? 'environment');
  process.stderr.write(`vmo: invalid configuration: ${name}: ${issue.message} (got ${JSON.stringify(env[name] ?? null)})\n`);
  process.exit(78); // EX_CONFIG
}

/** Thrown-variant for tests and for callers that want to handle the failure. */
export function tryParseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new Error(`${String(issue.path[0] ?? 'environment')}: ${issue.message}`);
}
