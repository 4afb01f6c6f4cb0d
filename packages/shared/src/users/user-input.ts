import { z } from 'zod';
import { TOKEN_SCOPES, USER_ROLES } from '../domain/access.ts';
import { storableString } from '../domain/storable-text.ts';

export const USER_NAME_MAX = 200;
const USER_ID = /^usr_[0-9a-z]{20}$/;

/**
 * A user's name: how people, `?user=` filters, token `user` fields and the auth proxy's user
 * header refer to them. Broad on purpose (proxies send `alice`, `alice@example.com` or
 * `CORP\alice`), but printable, without surrounding spaces, and never shaped like a user id (a
 * name that looked like another user's id would make "by id or name" ambiguous).
 */
export const UserName = storableString({ error: 'is required and must be a string' })
  .min(1, 'must not be empty')
  .max(USER_NAME_MAX, `must be at most ${USER_NAME_MAX} characters`)
  .refine((v) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(v), 'must not contain control or format characters')
  .refine((v) => v.trim() === v, 'must not begin or end with spaces')
  .refine((v) => !USER_ID.test(v), 'must not look like a user id (usr_…)');

export const UserEmail = z.email({ error: 'must be an email address' }).max(320, 'must be at most 320 characters');

export const UserRoleInput = z.enum(USER_ROLES, { error: `must be one of ${USER_ROLES.join(', ')}` });

/** POST /v1/users. */
export const UserInput = z
  .object({
    name: UserName,
    email: UserEmail.nullable().default(null),
    role: UserRoleInput,
  })
  .strict();
export type UserInput = z.infer<typeof UserInput>;

/**
 * PATCH /v1/users/{id}: any subset. A change of role or `disabled: true` applies to the user's
 * next request on every API node (tokens resolve to the user as it is now); `email: null` clears it.
 */
export const UserPatch = z
  .object({
    name: UserName.optional(),
    email: UserEmail.nullable().optional(),
    role: UserRoleInput.optional(),
    disabled: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict();
export type UserPatch = z.infer<typeof UserPatch>;

export const TokenScopeInput = z.enum(TOKEN_SCOPES, { error: `must be one of ${TOKEN_SCOPES.join(', ')}` });

/**
 * POST /v1/tokens. `scopes` narrows the user's role (absent: all the role allows, as it is at each
 * request); `user` (id or name) is for admins creating a token for someone else.
 */
export const TokenInput = z
  .object({
    name: storableString({ error: 'is required and must be a string' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
    scopes: z
      .array(TokenScopeInput, { error: 'must be a list of scopes' })
      .min(1, 'must name at least one scope (leave it out for all of the role)')
      .max(TOKEN_SCOPES.length * 2)
      .transform((list) => [...new Set(list)])
      .optional(),
    expiresAt: z.iso
      .datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-31T00:00:00Z' })
      .optional(),
    user: storableString({ error: 'must be a user id or name' }).min(1, 'must not be empty').max(USER_NAME_MAX).optional(),
  })
  .strict();
export type TokenInput = z.infer<typeof TokenInput>;
