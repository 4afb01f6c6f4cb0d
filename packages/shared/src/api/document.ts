import { z } from 'zod';
import { errorResponses, SERVED } from './errors.ts';
import { defineRoute } from './route.ts';

/** Where the API serves its OpenAPI document and a page that renders it. */
export const OPENAPI_PATH = '/v1/openapi.json';
export const DOCS_PATH = '/docs';

export const openapiDocument = defineRoute({
  method: 'get',
  path: OPENAPI_PATH,
  operationId: 'openapi',
  tags: ['meta'],
  summary: 'This document (OpenAPI 3.1)',
  description: 'No token needed.',
  security: [],
  responses: {
    200: { description: 'The OpenAPI 3.1 document of this API', content: { 'application/json': { schema: z.record(z.string(), z.unknown()).meta({ description: 'An OpenAPI 3.1 document' }) } } },
    ...errorResponses(SERVED),
  },
});

export const docsPage = defineRoute({
  method: 'get',
  path: DOCS_PATH,
  operationId: 'docs',
  tags: ['meta'],
  summary: 'The API reference, rendered',
  description: 'An HTML page that renders /v1/openapi.json (Scalar). No token needed; the page loads its renderer from a CDN into your browser.',
  security: [],
  responses: {
    200: { description: 'An HTML page', content: { 'text/html': { schema: z.string() } } },
    ...errorResponses(SERVED),
  },
});
