import { z } from 'zod';
import { errorResponses, SERVED } from './errors.ts';
import { defineRoute } from './route.ts';

/** Where every API node serves its Prometheus metrics (workers: on VMO_METRICS_PORT). */
export const METRICS_PATH = '/metrics';

export const getMetrics = defineRoute({
  method: 'get',
  path: METRICS_PATH,
  operationId: 'getMetrics',
  tags: ['meta'],
  summary: 'Prometheus metrics of this node',
  description:
    'The Prometheus text format (0.0.4): jobs submitted and finished, job run time and queue wait, queue depth, agents online, WebSocket subscribers, store errors, process metrics. ' +
    '`Authorization: Bearer <VMO_METRICS_TOKEN>` (for a scraper), or an admin credential (an admin user\'s token or the bootstrap admin token); anything else is 401 (no or an unknown token) or 403 (not an admin).',
  responses: {
    200: { description: 'The metrics, as text', content: { 'text/plain': { schema: z.string() } } },
    ...errorResponses({ 401: ['unauthorized'], 403: ['forbidden'], 503: ['unavailable'], ...SERVED }),
  },
});
