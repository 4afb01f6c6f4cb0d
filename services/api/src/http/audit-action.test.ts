import { describe, expect, it } from 'vitest';
import { REST_ROUTES } from '@vmo/shared/api';
import { auditActionOf, auditedRouteFor } from './audit-action.ts';
import { auditSourceAddress } from './audit-source.ts';

describe('audit actions come from the route table', () => {
  it.each([
    ['POST', '/v1/jobs', 'jobs.submit', false],
    ['POST', '/v1/jobs/job_0123456789abcdefghij/cancel', 'jobs.cancel', true],
    ['POST', '/v1/runs', 'runs.submit', false],
    ['POST', '/v1/runs/run_0123456789abcdefghij/cancel', 'runs.cancel', true],
    ['POST', '/v1/agents', 'agents.register', false],
    ['PATCH', '/v1/agents/web-1', 'agents.update', true],
    ['DELETE', '/v1/agents/web-1', 'agents.revoke', true],
    ['POST', '/v1/hosts', 'hosts.create', false],
    ['POST', '/v1/hosts/import', 'hosts.import', false],
    ['PATCH', '/v1/hosts/db-1@prod', 'hosts.update', true],
    ['DELETE', '/v1/hosts/db-1@prod', 'hosts.delete', true],
    ['GET', '/v1/jobs', 'jobs.list', false],
    ['GET', '/v1/jobs/job_0123456789abcdefghij/logs', 'jobs.logs', true],
    ['GET', '/v1/jobs/job_0123456789abcdefghij/stream', 'jobs.stream', true],
    ['GET', '/v1/runs/run_0123456789abcdefghij/jobs', 'runs.list_jobs', true],
    ['GET', '/v1/agent/connect', 'agents.connect', false],
    ['GET', '/v1/audit', 'audit.list', false],
  ])('%s %s → %s', (method, path, action, hasId) => {
    expect(auditedRouteFor(method, path)).toMatchObject({ action, hasId });
  });

  it('routes of resources added later are named by the same rule', () => {
    expect(auditActionOf({ path: '/v1/enrolment-tokens', operationId: 'createEnrolmentToken' })).toEqual({ action: 'enrolment_tokens.create', resourceType: 'enrolment_tokens', hasId: false });
    expect(auditActionOf({ path: '/v1/enrolment-tokens/{id}', operationId: 'revokeEnrolmentToken' }).action).toBe('enrolment_tokens.revoke');
    expect(auditActionOf({ path: '/v1/policies', operationId: 'createPolicy' }).action).toBe('policies.create');
    expect(auditActionOf({ path: '/v1/policies/{id}', operationId: 'deletePolicy' }).action).toBe('policies.delete');
    expect(auditActionOf({ path: '/v1/users/{id}', operationId: 'updateUser' }).action).toBe('users.update');
    expect(auditActionOf({ path: '/v1/tokens', operationId: 'createToken' }).action).toBe('tokens.create');
    expect(auditActionOf({ path: '/v1/agents/{id}/rotate-token', operationId: 'rotateAgentToken' }).action).toBe('agents.rotate_token');
    expect(auditActionOf({ path: '/v1/agent/enrol', operationId: 'enrolAgent' }).action).toBe('agents.enrol');
    expect(auditActionOf({ path: '/metrics', operationId: 'getMetrics' })).toEqual({ action: 'metrics.get', resourceType: 'metrics', hasId: false });
  });

  it('every mutating route of the API has an action of the form resource.verb', () => {
    for (const route of REST_ROUTES.filter((r) => r.method !== 'get')) {
      expect(auditedRouteFor(route.method, route.path.replace(/\{[^}]+\}/g, 'x'))?.action, `${route.method} ${route.path}`).toMatch(/^[a-z_]+\.[a-z_]+$/);
    }
  });

  it('a path no route has is no action', () => {
    expect(auditedRouteFor('POST', '/v1/nothing')).toBeUndefined();
    expect(auditedRouteFor('PUT', '/v1/jobs')).toBeUndefined();
  });
});

describe('the source address', () => {
  const trusted = (a: string) => a === '10.0.0.5' || a === '10.0.0.6';
  it('is the peer, whatever X-Forwarded-For an untrusted peer sends', () => {
    expect(auditSourceAddress('203.0.113.9', '198.51.100.1', trusted)).toBe('203.0.113.9');
    expect(auditSourceAddress('::ffff:203.0.113.9', undefined, trusted)).toBe('203.0.113.9');
  });
  it('behind trusted proxies, the first address from the right that is not one of them', () => {
    expect(auditSourceAddress('10.0.0.5', '198.51.100.1', trusted)).toBe('198.51.100.1');
    // The client wrote the leftmost entry itself: it proves nothing.
    expect(auditSourceAddress('10.0.0.5', '1.2.3.4, 198.51.100.1, 10.0.0.6', trusted)).toBe('198.51.100.1');
    expect(auditSourceAddress('10.0.0.5', undefined, trusted)).toBe('10.0.0.5');
  });
});
