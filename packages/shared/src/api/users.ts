import { z } from 'zod';
import { TOKEN_SCOPES, USER_ROLES } from '../domain/access.ts';
import { storableString } from '../errors/storable-text.ts';
import { USER_NAME_MAX, UserInput, UserPatch } from '../users/user-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const User = z
  .object({
    id: z.string().meta({ example: 'usr_0123456789abcdefghij' }),
    name: z.string().meta({ example: 'alice' }),
    email: z.string().nullable(),
    role: z.enum(USER_ROLES).meta({ description: '`admin`: everything. `operator`: run and cancel jobs and runs, read agents and hosts (policies narrow where). `viewer`: read only.' }),
    disabled: z.boolean().meta({ description: "A disabled user's tokens and proxy identity are refused (401) from their next request on" }),
    source: z.enum(['local', 'proxy']).meta({ description: '`local`: created by an admin; `proxy`: created on first sight behind the trusted auth proxy' }),
    createdAt: when('When the user was created'),
    updatedAt: when('When the user last changed'),
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof User>;

export const UserPage = z.object({ items: z.array(User), nextCursor: z.string().nullable() }).meta({ id: 'UserPage' });

export const UserIdParams = z.object({ id: storableString().meta({ description: 'A user id (`usr_…`) or name', example: 'alice' }) });

export const ListUsersQuery = z
  .object({
    limit: intParam(1, 500, 100),
    cursor: storableString().max(USER_NAME_MAX).optional().meta({ description: 'The nextCursor of the previous page' }),
  })
  .strict();

export const Me = z
  .object({
    kind: z.enum(['bootstrap', 'user', 'proxy']).meta({ description: '`bootstrap`: the admin token (VMO_ADMIN_TOKEN or the one printed at first start), which is no user; `user`: a user token; `proxy`: the user the trusted auth proxy named' }),
    id: z.string().nullable().meta({ description: 'The user id; null for the bootstrap admin' }),
    name: z.string(),
    email: z.string().nullable(),
    role: z.enum(USER_ROLES).meta({ description: 'The role as it is now' }),
    scopes: z.array(z.enum(TOKEN_SCOPES)).meta({ description: "What this caller may do now: the role's scopes, narrowed by the token's" }),
    token: z
      .object({
        id: z.string(),
        name: z.string(),
        scopes: z.array(z.enum(TOKEN_SCOPES)).nullable().meta({ description: "The token's own scopes; null: all of the role" }),
        expiresAt: when('When the token stops working').nullable(),
      })
      .nullable()
      .meta({ description: 'The token of this request; null for a proxy identity' }),
  })
  .meta({ id: 'Me' });

const BAD_BODY = { 400: ['validation_failed', 'invalid_json'] } as const;
const USER_NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;

export const createUser = defineRoute({
  method: 'post',
  path: '/v1/users',
  operationId: 'createUser',
  tags: ['users'],
  summary: 'Create a user (admin)',
  description: 'Then give them a token (`POST /v1/tokens` with `user`), or let the trusted auth proxy name them.',
  request: { body: { required: true, content: json(UserInput.meta({ id: 'UserInput' })) } },
  responses: {
    201: { description: 'Created', headers: z.object({ Location: z.string().meta({ description: '`/v1/users/{id}`' }) }), content: json(User) },
    ...errorResponses({ ...AUTHENTICATED, ...BAD_BODY, 409: ['user_exists'] }),
  },
});

export const listUsers = defineRoute({
  method: 'get',
  path: '/v1/users',
  operationId: 'listUsers',
  tags: ['users'],
  summary: 'List users (admin)',
  description: 'By name.',
  request: { query: ListUsersQuery },
  responses: { 200: { description: 'A page of users', content: json(UserPage) }, ...errorResponses(AUTHENTICATED) },
});

export const getUser = defineRoute({
  method: 'get',
  path: '/v1/users/{id}',
  operationId: 'getUser',
  tags: ['users'],
  summary: 'A user (admin)',
  request: { params: UserIdParams },
  responses: { 200: { description: 'The user', content: json(User) }, ...errorResponses(USER_NOT_FOUND) },
});

export const updateUser = defineRoute({
  method: 'patch',
  path: '/v1/users/{id}',
  operationId: 'updateUser',
  tags: ['users'],
  summary: 'Change a user (admin)',
  description: 'Any subset of the fields. A new role or `disabled: true` holds from the next request of any of their tokens, on every API node.',
  request: { params: UserIdParams, body: { required: true, content: json(UserPatch.meta({ id: 'UserPatch' })) } },
  responses: {
    200: { description: 'The user after the change', content: json(User) },
    ...errorResponses({ ...USER_NOT_FOUND, ...BAD_BODY, 409: ['user_exists'] }),
  },
});

export const getMe = defineRoute({
  method: 'get',
  path: '/v1/me',
  operationId: 'getMe',
  tags: ['users'],
  summary: 'Who am I',
  description: 'The caller: user, role and the scopes of the credential used. Any authenticated caller.',
  responses: { 200: { description: 'The caller', content: json(Me) }, ...errorResponses(AUTHENTICATED) },
});
