import { describe, expect, it } from 'vitest';
import { buildRunBody, EMPTY_FIELDS, FieldError } from './new-run-body.ts';

const form = (changes: Partial<typeof EMPTY_FIELDS>) => ({ ...EMPTY_FIELDS, command: 'uptime', ...changes });

describe('the New run form as POST /v1/runs body', () => {
  it('sends only what was filled in, so the API applies its defaults', () => {
    expect(buildRunBody(form({ selector: ' role=web ' }))).toEqual({ command: 'uptime', targets: { selector: 'role=web' } });
  });

  it('splits agent and host lists on commas, spaces and lines, and narrows the selector to one kind', () => {
    const body = buildRunBody(form({ selector: 'env=prod', includeHosts: false, agents: 'web-1, web-2\napi-1', hosts: 'db-1@prod' }));
    expect(body.targets).toEqual({ selector: 'env=prod', kinds: ['agent'], agents: ['web-1', 'web-2', 'api-1'], hosts: ['db-1@prod'] });
  });

  it('reads counts as numbers and shares as text, the canary bake and the timeout in seconds', () => {
    const body = buildRunBody(form({ selector: 'a', maxConcurrency: '50%', maxErrors: '0', canaryCount: '1', canaryBakeSeconds: '30', timeoutSeconds: '90', offline: 'skip' }));
    expect(body.strategy).toEqual({ maxConcurrency: '50%', maxErrors: 0, canary: { count: 1, bakeMs: 30_000 } });
    expect(body.timeoutMs).toBe(90_000);
    expect(body.offline).toBe('skip');
  });

  it('passes a share it cannot read to the API as written (its 400 names the field)', () => {
    expect(buildRunBody(form({ selector: 'a', maxConcurrency: 'lots' })).strategy).toEqual({ maxConcurrency: 'lots' });
  });

  it('reads env lines NAME=value, keeping "=" in values, skipping blanks and comments', () => {
    expect(buildRunBody(form({ selector: 'a', env: 'A=1\n\n# note\nB=x=y\r\n' })).env).toEqual({ A: '1', B: 'x=y' });
  });

  it('refuses what it cannot send, naming the field', () => {
    const fails = (changes: Partial<typeof EMPTY_FIELDS>): string[] => {
      try {
        buildRunBody(form(changes));
      } catch (err) {
        return err instanceof FieldError ? [err.field, err.message] : [String(err)];
      }
      return ['no error'];
    };
    expect(fails({ selector: 'a', env: 'JUSTANAME' })).toEqual(['env', 'Env line 1 is not NAME=value']);
    expect(fails({ selector: 'a', timeoutSeconds: 'soon' })).toEqual(['timeoutSeconds', 'The timeout must be a number of seconds']);
    expect(fails({ selector: 'a', includeAgents: false, includeHosts: false })[0]).toBe('includeAgents');
    expect(fails({ selector: 'a', canaryBakeSeconds: '30' })[0]).toBe('canaryCount');
  });
});
