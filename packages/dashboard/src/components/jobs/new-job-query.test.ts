import { describe, expect, it } from 'vitest';
import { readNewJobQuery, runAgainHref, timeoutFields } from './new-job-query.ts';

describe('"Run again": the New job form\'s query', () => {
  const job = {
    command: 'echo "a=b" && ls',
    target: { type: 'ssh' as const, host: 'db-1@prod' },
    cwd: '/srv/app',
    timeoutMs: 90 * 60_000,
    env: { GREETING: 'hi there', EQUATION: 'x=1+1' },
    labels: { team: 'ops', purpose: 'deploy' },
  };

  it('carries command, target, cwd, timeout, env and labels, and reads them back as written', () => {
    const url = new URL(runAgainHref(job), 'http://vmo.example');
    expect(url.pathname).toBe('/jobs/new');
    expect(readNewJobQuery(url.searchParams)).toEqual({
      command: job.command,
      target: { kind: 'ssh', name: 'db-1@prod' },
      cwd: '/srv/app',
      timeoutMs: 90 * 60_000,
      env: [
        { key: 'GREETING', value: 'hi there' },
        { key: 'EQUATION', value: 'x=1+1' },
      ],
      labels: [
        { key: 'team', value: 'ops' },
        { key: 'purpose', value: 'deploy' },
      ],
    });
  });

  it('leaves out a cwd the job did not have; a query without the fields fills nothing', () => {
    const url = new URL(runAgainHref({ ...job, target: { type: 'local' }, cwd: null, env: {}, labels: {} }), 'http://vmo.example');
    expect([...url.searchParams.keys()]).toEqual(['command', 'target', 'timeoutMs']);
    expect(readNewJobQuery(new URLSearchParams('command=true&timeoutMs=soon'))).toEqual({ command: 'true', target: undefined, cwd: '', timeoutMs: undefined, env: [], labels: [] });
  });

  it('shows a timeout in the largest unit it is a whole number of', () => {
    expect(timeoutFields(2 * 3_600_000)).toEqual({ value: 2, unit: 'h' });
    expect(timeoutFields(90 * 60_000)).toEqual({ value: 90, unit: 'min' });
    expect(timeoutFields(45_000)).toEqual({ value: 45, unit: 's' });
    expect(timeoutFields(1_500)).toEqual({ value: 1.5, unit: 's' });
  });
});
