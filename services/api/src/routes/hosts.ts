import { Hono } from 'hono';
import { z } from 'zod';
import { createHost, deleteHost, getHost, HostImportInput, HostInput, HostPatch, importSshConfig, listHosts, updateHost } from '@vmo/shared/hosts';
import type { ControlPlane } from '@vmo/shared/jobs';
import type { AuthEnv } from '../auth/principal.ts';
import { jsonBody, queryParams } from '../http/json-body.ts';
import { pathParam } from '../http/path-param.ts';

const ListQuery = z
  .object({
    environment: z.string().min(1).max(63).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().regex(/^host_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

/** /v1/hosts: the inventory of agentless hosts. `:id` also accepts a name or name@environment. */
export function hostRoutes(cp: ControlPlane) {
  return new Hono<AuthEnv>()
    .post('/', async (c) => {
      const host = await createHost(cp, await jsonBody(c, HostInput));
      c.header('Location', `/v1/hosts/${host.id}`);
      return c.json(host, 201);
    })
    .get('/', async (c) => c.json(await listHosts(cp, queryParams(c, ListQuery))))
    .post('/import', async (c) => c.json(await importSshConfig(cp, await jsonBody(c, HostImportInput))))
    .get('/:id', async (c) => c.json(await getHost(cp, pathParam(c, 'id'))))
    .patch('/:id', async (c) => c.json(await updateHost(cp, pathParam(c, 'id'), await jsonBody(c, HostPatch))))
    .delete('/:id', async (c) => {
      await deleteHost(cp, pathParam(c, 'id'));
      return c.body(null, 204);
    });
}
