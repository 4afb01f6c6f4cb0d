import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.ts';
import { CommandParam, CreateCommandInput, RunCommandInput } from './command-input.ts';
import { checkDeclarations, resolveParamValues } from './param-values.ts';

const declare = (...params: unknown[]) => params.map((p) => CommandParam.parse(p));

/** The refusal's code, parameter and message (never the value). */
function refusal(work: () => unknown): { code: string; param: unknown; message: string } {
  try {
    work();
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, param: err.details?.param ?? err.details?.field, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('resolveParamValues: values judged against their declarations, as VMO_PARAM_<NAME> variables', () => {
  const params = declare(
    { name: 'host', type: 'string', required: true, pattern: '[a-z0-9.-]+' },
    { name: 'count', type: 'int', default: 3, min: 1, max: 10 },
    { name: 'force', type: 'bool' },
    { name: 'mode', type: 'enum', values: ['fast', 'safe'], default: 'safe' },
    { name: 'token', type: 'string', secret: true },
  );

  it('turns each value into its variable (defaults filled, absent optional ones unset), secrets apart', () => {
    expect(resolveParamValues(params, { host: 'web-1', force: true, token: 's3cr3t-value' })).toEqual({
      env: { VMO_PARAM_HOST: 'web-1', VMO_PARAM_COUNT: '3', VMO_PARAM_FORCE: 'true', VMO_PARAM_MODE: 'safe' },
      secretEnv: { VMO_PARAM_TOKEN: 's3cr3t-value' },
    });
    expect(resolveParamValues(params, { host: 'a', count: '7', force: 'false' }).env).toEqual({ VMO_PARAM_HOST: 'a', VMO_PARAM_COUNT: '7', VMO_PARAM_FORCE: 'false', VMO_PARAM_MODE: 'safe' });
  });

  it.each([
    ['an unknown parameter', { host: 'a', nope: 1 }, 'nope'],
    ['a missing required one', {}, 'host'],
    ['a string that is not', { host: 5 }, 'host'],
    ['a pattern mismatch', { host: 'web; rm -rf ~' }, 'host'],
    ['a pattern matching only part of the value', { host: 'UPPER-web' }, 'host'],
    ['a NUL byte', { host: 'a\0b' }, 'host'],
    ['an int that is not whole', { host: 'a', count: 2.5 }, 'count'],
    ['an int as text that is not digits', { host: 'a', count: '3; id' }, 'count'],
    ['an int below its min', { host: 'a', count: 0 }, 'count'],
    ['an int above its max', { host: 'a', count: 11 }, 'count'],
    ['an int past the safe range', { host: 'a', count: 2 ** 60 }, 'count'],
    ['a bool that is not', { host: 'a', force: 'yes' }, 'force'],
    ['an enum value not listed', { host: 'a', mode: 'reckless' }, 'mode'],
    ['an enum value of another type', { host: 'a', mode: 1 }, 'mode'],
    ['a secret too short to mask', { host: 'a', token: 'abc' }, 'token'],
    ['a value over the size limit', { host: 'a'.repeat(4097) }, 'host'],
  ])('refuses %s: 400 invalid_param naming it', (_what, given, param) => {
    const r = refusal(() => resolveParamValues(params, given));
    expect(r).toMatchObject({ code: 'invalid_param', param });
    expect(r.message.startsWith(`params.${param}: `)).toBe(true);
    for (const v of Object.values(given)) if (typeof v === 'string' && v.length > 2) expect(r.message).not.toContain(v);
  });

  it('keeps hostile bytes exactly as given (they are data in a variable, never shell text)', () => {
    const free = declare({ name: 'x', type: 'string' });
    for (const value of ["'; touch /tmp/pwned; '", '$(touch /tmp/pwned)', '`touch /tmp/pwned`', 'a\nb\r\nc', '"; exit 3; "']) {
      expect(resolveParamValues(free, { x: value }).env.VMO_PARAM_X).toBe(value);
    }
  });

  it('matches a pattern in time linear in the value (RE2): a catastrophic pattern for a backtracking engine is instant', () => {
    const evil = declare({ name: 'x', type: 'string', pattern: '(a+)+' });
    const started = process.hrtime.bigint();
    expect(refusal(() => resolveParamValues(evil, { x: `${'a'.repeat(4000)}!` })).code).toBe('invalid_param');
    // A backtracking engine takes longer than the age of the universe here; RE2 a few milliseconds.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(5);
  });
});

describe('declarations', () => {
  it('refuses, at creation, patterns RE2 does not accept and defaults that do not match their pattern', () => {
    for (const pattern of ['(a', '(?=a)b', '(a)\\1', 'a{5000}', '[\\s\\S]{0,500}x{500}']) {
      expect(refusal(() => checkDeclarations(declare({ name: 'x', type: 'string', pattern })))).toMatchObject({ code: 'validation_failed', param: 'params.0.pattern' });
    }
    expect(refusal(() => checkDeclarations(declare({ name: 'x', type: 'string', pattern: '[0-9]+', default: 'abc' })))).toMatchObject({ code: 'validation_failed', param: 'params.0.default' });
  });

  it.each([
    ['a secret with a default', { name: 'x', type: 'string', secret: true, default: 'hunter22' }, 'default'],
    ['a name with capitals', { name: 'Host', type: 'string' }, 'name'],
    ['a name with a dash', { name: 'my-host', type: 'string' }, 'name'],
    ['an unknown type', { name: 'x', type: 'float' }, 'type'],
    ['a pattern on an int', { name: 'x', type: 'int', pattern: '[0-9]+' }, ''],
    ['a secret int', { name: 'x', type: 'int', secret: true }, ''],
    ['an enum without values', { name: 'x', type: 'enum' }, 'values'],
    ['an enum default not listed', { name: 'x', type: 'enum', values: ['a'], default: 'b' }, 'default'],
    ['min above max', { name: 'x', type: 'int', min: 5, max: 1 }, 'max'],
    ['an int default out of range', { name: 'x', type: 'int', max: 1, default: 2 }, 'default'],
  ])('refuses %s', (_what, param, field) => {
    const parsed = CommandParam.safeParse(param);
    expect(parsed.success).toBe(false);
    if (field) expect(parsed.error!.issues[0]!.path.join('.')).toContain(field);
  });

  it('refuses a parameter declared twice and a selector default that does not parse', () => {
    const twice = CreateCommandInput.safeParse({ name: 'c', script: 'true', params: [{ name: 'a', type: 'bool' }, { name: 'a', type: 'int' }] });
    expect(twice.error?.issues[0]?.path).toEqual(['params', 1, 'name']);
    const selector = CreateCommandInput.safeParse({ name: 'c', script: 'true', defaultTarget: { selector: 'env in (' } });
    expect(selector.error?.issues[0]?.path).toEqual(['defaultTarget', 'selector']);
    expect(CreateCommandInput.safeParse({ name: 'c', script: 'true', defaultTarget: { selector: 'env=prod', kinds: ['agent'] } }).success).toBe(true);
    expect(CreateCommandInput.safeParse({ name: 'c', script: 'true', defaultTarget: { type: 'agent', agent: 'web-1' } }).success).toBe(true);
  });

  it('a run gives target or targets, not both', () => {
    expect(RunCommandInput.safeParse({ target: { type: 'local' }, targets: { selector: 'a=b' } }).error?.issues[0]?.path).toEqual(['targets']);
  });
});
