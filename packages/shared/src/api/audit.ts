import { z } from 'zod';
import { ACTOR_KINDS, AUDIT_RESULTS } from '../domain/access.ts';
import { storableString } from '../errors/storable-text.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const AuditEventView = z
  .object({
    id: z.string().meta({ description: 'Increasing with the order rows were written', example: '1042' }),
    at: when('When the row was written: just after the answer was decided, before it was sent'),
    actor: z.object({
      kind: z.enum(ACTOR_KINDS).meta({ description: '`anonymous`: no credential was accepted (a 401)' }),
      id: z.string().nullable().meta({ description: "The user's id; null for the bootstrap admin and anonymous callers" }),
      name: z.string().nullable(),
      tokenId: z.string().nullable().meta({ description: 'The token used (`tok_…`); null for a proxy identity' }),
    }),
    action: z.string().meta({
      description:
        '`<resource>.<verb>` from the route (`jobs.submit`, `runs.cancel`, `agents.register`, `agents.revoke`, `hosts.import`, `agents.connect`, …); `auth.denied` for a request no credential was accepted for (what it attempted is `detail.attempted`)',
      example: 'jobs.submit',
    }),
    resource: z.object({ type: z.string().nullable().meta({ example: 'jobs' }), id: z.string().nullable().meta({ description: 'The id the answer gave, else the id of the agent, host or user the path named (looked up before the request ran; its name as typed is `detail.ref`), else the id or name in the path' }) }),
    targets: z.array(z.string()).nullable().meta({ description: 'Agent and host names concerned, when known: a job\'s target, the agents and hosts a run named, an agent\'s or host\'s name, what an import created or updated' }),
    sourceIp: z.string().nullable().meta({ description: 'The client: the connection\'s peer, or the address a trusted proxy (VMO_TRUSTED_PROXIES) forwarded' }),
    requestId: z.string().nullable().meta({ description: 'The X-Request-Id of the request' }),
    result: z.enum(AUDIT_RESULTS).meta({ description: '`allowed` (answered 2xx), `denied` (401, 403, or a 404 hiding what the caller may not see), `failed` (any other error)' }),
    status: z.number().int().nullable().meta({ description: 'The HTTP status answered' }),
    detail: z.record(z.string(), z.unknown()).nullable().meta({ description: 'The error `code` (and `field` of a 400, our `message` of a refusal), counts, a run\'s `selector`: never a token, a secret, an env value or a request body' }),
  })
  .meta({ id: 'AuditEvent' });
export type AuditEventView = z.infer<typeof AuditEventView>;

export const AuditPage = z
  .object({ items: z.array(AuditEventView), nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next (older) page; null on the last' }) })
  .meta({ id: 'AuditPage' });

/** A page's end: the last row's exact time (microseconds) and id, opaque to clients. */
export interface AuditCursorValue {
  at: string;
  id: string;
}

// Plain text (no base64: the contracts load in browsers, without Buffer), safe in a URL as is.
const CURSOR_TEXT = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)~(\d{1,18})$/;

export const encodeAuditCursor = (c: AuditCursorValue): string => `${c.at}~${c.id}`;

function decodeAuditCursor(text: string): AuditCursorValue | undefined {
  const m = CURSOR_TEXT.exec(text);
  // A real instant (not February 31st): Postgres would refuse it with a 500.
  const real = m && !Number.isNaN(Date.parse(m[1]!)) && new Date(m[1]!).toISOString().slice(0, 19) === m[1]!.slice(0, 19);
  return real ? { at: m[1]!, id: m[2]! } : undefined;
}

const instant = (what: string) =>
  z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 time with a zone, e.g. 2026-01-31T09:00:00Z' })
    .transform((s) => new Date(s))
    .meta({ type: 'string', format: 'date-time', description: what });

export const ListAuditQuery = z
  .object({
    actor: storableString().min(1).max(256).optional().meta({ description: 'A user id, a token id (`tok_…`), a name (a user\'s, the bootstrap admin\'s token name), or `anonymous`' }),
    action: z
      .string()
      .regex(/^[a-z_]+\.([a-z_]+|\*)$/, 'must be an action such as jobs.submit, or jobs.* for every action on jobs')
      .optional()
      .meta({ example: 'agents.*' }),
    resource: z
      .string()
      .max(300)
      .regex(/^[a-z_]+(\/[^/]+)?$/, 'must be a resource type (jobs) or a type and an id (jobs/job_…)')
      .transform((s) => {
        const [type, id] = s.split('/') as [string, string | undefined];
        return { type, id };
      })
      .optional()
      .meta({ type: 'string', description: 'A resource type (`jobs`, `agents`, `hosts`, …), or a type and an id or a name (`agents/web-1`): rows whose resource has that id, whose path named it so (`detail.ref`), or, for agents and hosts, that name it among their targets (a registration, an import)', example: 'jobs/job_0123456789abcdefghij' }),
    result: z.enum(AUDIT_RESULTS).optional(),
    since: instant('Rows written at or after this time').optional(),
    until: instant('Rows written before this time').optional(),
    cursor: z
      .string()
      .max(200)
      .transform((text, ctx) => decodeAuditCursor(text) ?? (ctx.addIssue({ code: 'custom', message: 'must be a nextCursor from a previous page' }), z.NEVER))
      .optional()
      .meta({ type: 'string', description: '`nextCursor` of the previous page' }),
    limit: intParam(1, 500, 100),
  })
  .strict();

export const listAudit = defineRoute({
  method: 'get',
  path: '/v1/audit',
  operationId: 'listAudit',
  tags: ['audit'],
  summary: 'The audit trail, newest first',
  description:
    'Every mutating request and every denied one, with who, what, where from and how it ended. Admins only (scope `audit:read`); a refusal here is itself recorded. Filters combine (all must hold); keyset pagination with `nextCursor`.',
  request: { query: ListAuditQuery },
  responses: {
    200: { description: 'A page of audit rows', content: json(AuditPage) },
    ...errorResponses(AUTHENTICATED),
  },
});
