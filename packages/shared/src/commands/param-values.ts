import { unstorableReason } from '../domain/storable-text.ts';
import { AppError, badRequest } from '../errors/app-error.ts';
import { MIN_SECRET_VALUE_BYTES } from '../jobs/job-input.ts';
import { MAX_PARAM_VALUE_BYTES, paramEnvName, type CommandParam } from './command-input.ts';
import { cachedParamPattern } from './param-pattern.ts';

/** What a run's parameters become: environment variables of the job, the secret ones apart. */
export interface ParamEnv {
  /** VMO_PARAM_<NAME> → value, for the job's `env` (shown on the job, as any env). */
  env: Record<string, string>;
  /** VMO_PARAM_<NAME> → value of each `secret: true` parameter, for the job's `secretEnv` (sealed, masked, never shown). */
  secretEnv: Record<string, string>;
}

/**
 * 400 `invalid_param` naming the parameter (`details.param`, `details.field` = `params.<name>`).
 * LOUD: the message never quotes the value: it may be a secret, or text meant to attack the
 * script (which must not reach a log through an error either).
 */
export const invalidParam = (name: string, message: string) => new AppError(400, 'invalid_param', `params.${name}: ${message}`, { field: `params.${name}`, param: name });

/**
 * A run's parameter values judged against the version's declarations, then turned into
 * environment variables: the ONLY way a value reaches the script (never pasted into its text, so
 * `'; rm -rf ~; '` is just bytes in $VMO_PARAM_X). A parameter left out takes its default; one
 * with neither is not set at all (the script sees it unset). The first refusal is thrown.
 */
export function resolveParamValues(declared: readonly CommandParam[], given: Readonly<Record<string, unknown>>): ParamEnv {
  const byName = new Map(declared.map((p) => [p.name, p]));
  for (const name of Object.keys(given)) {
    if (!byName.has(name)) {
      const takes = declared.length === 0 ? 'it takes no parameters' : `it takes ${declared.map((p) => p.name).join(', ')}`;
      throw invalidParam(name, `the command declares no parameter ${JSON.stringify(name)}; ${takes}`);
    }
  }
  const out: ParamEnv = { env: {}, secretEnv: {} };
  for (const p of declared) {
    const raw = Object.hasOwn(given, p.name) ? given[p.name] : p.default;
    if (raw === undefined) {
      if (p.required) throw invalidParam(p.name, 'is required');
      continue;
    }
    const value = paramValue(p, raw);
    if (p.type === 'string' && p.secret) out.secretEnv[paramEnvName(p.name)] = value;
    else out.env[paramEnvName(p.name)] = value;
  }
  return out;
}

/** One value as its declaration takes it, as the text its variable will hold. */
export function paramValue(p: CommandParam, raw: unknown): string {
  switch (p.type) {
    case 'string': {
      if (typeof raw !== 'string') throw invalidParam(p.name, 'must be a string');
      const unstorable = unstorableReason(raw);
      if (unstorable) throw invalidParam(p.name, unstorable);
      const bytes = Buffer.byteLength(raw);
      if (bytes > MAX_PARAM_VALUE_BYTES) throw invalidParam(p.name, `must be at most ${MAX_PARAM_VALUE_BYTES} bytes`);
      if (p.secret && bytes < MIN_SECRET_VALUE_BYTES) throw invalidParam(p.name, `is secret and must be at least ${MIN_SECRET_VALUE_BYTES} bytes (a shorter value cannot be masked in the output)`);
      if (p.pattern !== undefined) {
        const pattern = cachedParamPattern(p.pattern);
        if ('error' in pattern) throw invalidParam(p.name, `the command's pattern does not compile (${pattern.error}); its owner must fix it`);
        if (!pattern.test(raw)) throw invalidParam(p.name, `does not match the pattern ${p.pattern} (the whole value must match)`);
      }
      return raw;
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[+-]?\d{1,16}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw invalidParam(p.name, typeof raw === 'number' ? 'must be a whole number' : 'must be a whole number (digits, an optional sign)');
      if (p.min !== undefined && n < p.min) throw invalidParam(p.name, `must be at least ${p.min}`);
      if (p.max !== undefined && n > p.max) throw invalidParam(p.name, `must be at most ${p.max}`);
      return String(n);
    }
    case 'bool': {
      if (raw === true || raw === 'true') return 'true';
      if (raw === false || raw === 'false') return 'false';
      throw invalidParam(p.name, 'must be true or false');
    }
    case 'enum': {
      if (typeof raw !== 'string' || !p.values.includes(raw)) throw invalidParam(p.name, `must be one of ${p.values.join(', ')}`);
      return raw;
    }
  }
}

/**
 * The declarations' own checks that need RE2 (zod judged the rest): every pattern compiles, and
 * a string default matches its pattern. 400 `validation_failed` naming `params.<i>.pattern` or
 * `params.<i>.default`, refused before any version is written.
 */
export function checkDeclarations(params: readonly CommandParam[]): void {
  params.forEach((p, i) => {
    if (p.type !== 'string' || p.pattern === undefined) return;
    const pattern = cachedParamPattern(p.pattern);
    if ('error' in pattern) {
      throw badRequest('validation_failed', `params.${i}.pattern: is not a pattern RE2 accepts: ${pattern.error} (no look-around, no back-references)`, { field: `params.${i}.pattern` });
    }
    if (p.default !== undefined && !pattern.test(p.default)) {
      throw badRequest('validation_failed', `params.${i}.default: does not match the parameter's pattern`, { field: `params.${i}.default` });
    }
  });
}
