import { z } from 'zod';
import { TARGET_KINDS, type TargetKind } from '../domain/target-kind.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { labelSelectorParam } from './label-selector-param.ts';
import { defineRoute, intParam, json } from './route.ts';

export const Target = z
  .object({
    kind: z.enum(TARGET_KINDS),
    id: z.string().meta({ example: 'agt_0123456789abcdefghij' }),
    name: z.string().meta({ description: 'An agent\'s name; a host\'s `name@environment`', example: 'web-1' }),
    labels: z.record(z.string(), z.string()).meta({ description: 'Agents: registered labels over reported ones (as GET /v1/agents shows them)' }),
    online: z.boolean().nullable().meta({ description: 'Agents: connected now; `null` when presence could not be read, and for SSH hosts' }),
  })
  .meta({ id: 'Target' });

export const TargetPreview = z
  .object({ items: z.array(Target), total: z.number().int().meta({ description: 'Everything the selector matches; items holds the first `limit`' }) })
  .meta({ id: 'TargetPreview' });

/** `agent,ssh`: one or both kinds, comma-separated. */
const Kinds = z
  .string()
  .regex(/^(agent|ssh)(,(agent|ssh))*$/, 'must be a comma-separated list of "agent" and "ssh"')
  .transform((s) => [...new Set(s.split(','))] as TargetKind[])
  .meta({ type: 'string', description: 'Comma-separated: `agent`, `ssh`; both when absent', example: 'agent,ssh' });

export const PreviewTargetsQuery = z
  .object({
    selector: labelSelectorParam('Which agents and hosts; empty or absent: all of them.').optional(),
    kinds: Kinds.optional(),
    limit: intParam(1, 10_000, 1000),
  })
  .strict();

export const previewTargets = defineRoute({
  method: 'get',
  path: '/v1/targets',
  operationId: 'previewTargets',
  tags: ['targets'],
  summary: 'Preview what a label selector matches',
  description: 'Agents (revoked ones never match) and inventory hosts, sorted by kind then name; nothing runs. A selector that does not parse is 400 naming its position.',
  request: { query: PreviewTargetsQuery },
  responses: { 200: { description: 'What the selector matches now', content: json(TargetPreview) }, ...errorResponses(AUTHENTICATED) },
});
