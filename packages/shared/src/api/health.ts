import { z } from 'zod';
import { errorResponses, SERVED } from './errors.ts';
import { defineRoute, json } from './route.ts';

export const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const Ready = z.object({ status: z.literal('ready'), postgres: z.literal('up'), redis: z.literal('up') }).meta({ id: 'Ready' });

export const health = defineRoute({
  method: 'get',
  path: '/health',
  operationId: 'health',
  tags: ['health'],
  summary: 'The process is up',
  security: [],
  responses: { 200: { description: 'Up', content: json(Health) }, ...errorResponses(SERVED) },
});

export const ready = defineRoute({
  method: 'get',
  path: '/health/ready',
  operationId: 'ready',
  tags: ['health'],
  summary: 'Postgres and Redis answer',
  description: 'Each is given 2 s. For a load balancer: take the node out while this is 503.',
  security: [],
  responses: {
    200: { description: 'Ready', content: json(Ready) },
    // details: { postgres: 'up' | 'down', redis: 'up' | 'down' }
    ...errorResponses({ ...SERVED, 503: ['unavailable'] }),
  },
});
