import { z } from 'zod';
import { TOKEN_SCOPES } from '../domain/access.ts';
import { storableString } from '../errors/storable-text.ts';
import { TokenInput, USER_NAME_MAX } from '../users/user-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const ApiToken = z
  .object({
    id: z.string().meta({ example: 'tok_0123456789abcdefghij' }),
    name: z.string(),
    kind: z.enum(['bootstrap', 'user']).meta({ description: '`bootstrap`: the admin token (VMO_ADMIN_TOKEN or the one printed at first start), which belongs to no user' }),
    user: z.object({ id: z.string(), name: z.string() }).nullable(),
    scopes: z.array(z.enum(TOKEN_SCOPES)).nullable().meta({ description: "What the token may do, within its user's role as it is at each request; null: all of the role" }),
    expiresAt: when('When it stops working').nullable(),
    lastUsedAt: when('Last used (to the minute)').nullable(),
    createdBy: z.string().nullable(),
    createdAt: when('When it was created'),
  })
  .meta({ id: 'ApiToken' });

export const CreatedApiToken = ApiToken.extend({
  token: z.string().meta({ description: 'The token (`vmo_usr_…`): shown once, stored only as its hash' }),
}).meta({ id: 'CreatedApiToken' });

export const ApiTokenPage = z.object({ items: z.array(ApiToken), nextCursor: z.string().nullable() }).meta({ id: 'ApiTokenPage' });

export const ListTokensQuery = z
  .object({
    user: storableString().min(1).max(USER_NAME_MAX).optional().meta({ description: "Admins: this user's tokens (id or name). Without it an admin sees everyone's, anyone else their own" }),
    limit: intParam(1, 500, 100),
    cursor: z.string().regex(/^tok_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

export const TokenIdParams = z.object({ id: storableString().meta({ description: 'A token id (`tok_…`)', example: 'tok_0123456789abcdefghij' }) });

export const createToken = defineRoute({
  method: 'post',
  path: '/v1/tokens',
  operationId: 'createToken',
  tags: ['users'],
  summary: 'Create an API token',
  description:
    "For the caller, or (admins, by id or name) for `user`. The bootstrap admin is no user: it must name one. `scopes` narrow the user's role and never widen it: a scope the role lacks is 400 naming it. Made with a token, the new one can do no more than that token nor outlive it. The token is answered once.",
  request: { body: { required: true, content: json(TokenInput.meta({ id: 'TokenInput' })) } },
  responses: {
    201: { description: 'Created: `token` is shown this once', content: json(CreatedApiToken) },
    ...errorResponses({ ...AUTHENTICATED, 400: ['validation_failed', 'invalid_json'], 422: ['unknown_user'] }),
  },
});

export const listTokens = defineRoute({
  method: 'get',
  path: '/v1/tokens',
  operationId: 'listTokens',
  tags: ['users'],
  summary: 'List API tokens',
  description: "Your own tokens; an admin's list is everyone's (bootstrap tokens included) or, with `?user=`, one user's. Revoked tokens are not listed; expired ones are, with their `expiresAt`.",
  request: { query: ListTokensQuery },
  responses: { 200: { description: 'A page of tokens, newest first', content: json(ApiTokenPage) }, ...errorResponses({ ...AUTHENTICATED, 422: ['unknown_user'] }) },
});

export const revokeToken = defineRoute({
  method: 'delete',
  path: '/v1/tokens/{id}',
  operationId: 'revokeToken',
  tags: ['users'],
  summary: 'Revoke an API token',
  description: "Yours, or (admins) anyone's. Refused from its next request on every API node. Someone else's token is 404 to a non-admin.",
  request: { params: TokenIdParams },
  responses: { 204: { description: 'Revoked' }, ...errorResponses({ ...AUTHENTICATED, 404: ['not_found'] }) },
});
