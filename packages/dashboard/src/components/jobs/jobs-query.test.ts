import { describe, expect, it } from 'vitest';
import { filtersFromQuery, listQuery, NO_FILTERS, PAGE_SIZE, queryChanges } from './jobs-query.ts';
import { formatTargetParam, parseTargetParam, targetInput } from './job-target.ts';

describe('the jobs list filters in the URL', () => {
  it('reads statuses repeated or comma-separated, drops unknown ones, trims the rest', () => {
    expect(filtersFromQuery(new URLSearchParams('status=failed&status=lost,failed&status=bogus&createdBy=%20olga%20&labels=env%3Dprod'))).toEqual({
      status: ['failed', 'lost'],
      target: '',
      run: '',
      createdBy: 'olga',
      labels: 'env=prod',
    });
  });

  it('asks for one page with only the filters that are set; a filter change starts at the newest page', () => {
    expect(listQuery(NO_FILTERS, undefined)).toEqual({ limit: PAGE_SIZE });
    expect(listQuery({ ...NO_FILTERS, status: ['failed'], createdBy: 'olga' }, 'job_0123456789abcdefghij')).toEqual({ status: ['failed'], createdBy: 'olga', cursor: 'job_0123456789abcdefghij', limit: PAGE_SIZE });
    expect(queryChanges({ ...NO_FILTERS, target: ' web-1 ' })).toMatchObject({ target: 'web-1', cursor: undefined });
  });
});

describe('a target in one word (?target= of /jobs/new)', () => {
  it('reads local, agent:NAME and ssh:NAME@ENV, and nothing else', () => {
    expect(parseTargetParam('local')).toEqual({ kind: 'local', name: '' });
    expect(parseTargetParam('agent:web-1')).toEqual({ kind: 'agent', name: 'web-1' });
    expect(parseTargetParam('ssh:db-1@prod')).toEqual({ kind: 'ssh', name: 'db-1@prod' });
    expect(parseTargetParam('moon:x')).toBeUndefined();
    expect(parseTargetParam('web-1')).toBeUndefined();
    expect(formatTargetParam({ kind: 'ssh', name: 'db-1@prod' })).toBe('ssh:db-1@prod');
    expect(targetInput({ kind: 'agent', name: ' web-1 ' })).toEqual({ type: 'agent', agent: 'web-1' });
    expect(targetInput({ kind: 'local', name: 'ignored' })).toEqual({ type: 'local' });
  });
});
