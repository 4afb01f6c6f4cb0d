import { apiTokens, type Database } from '@vmo/shared/db';
import { newId } from '@vmo/shared/ids';
import { generateToken, hashToken } from '@vmo/shared/tokens';

/**
 * Make sure an admin token exists. `VMO_ADMIN_TOKEN` is registered (hashed) if given; otherwise
 * one is generated at first start and returned so the caller prints it once. It is never stored
 * or logged in clear.
 */
export async function ensureAdminToken(database: Database, fromEnv: string | undefined): Promise<string | undefined> {
  const { db, sql } = database;
  if (fromEnv) {
    await db.insert(apiTokens).values({ id: newId('tok'), name: 'admin (VMO_ADMIN_TOKEN)', tokenHash: hashToken(fromEnv), role: 'admin' }).onConflictDoNothing();
    return undefined;
  }
  // Serialise first starts of several API processes so exactly one token is generated.
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(7761031)`;
    const [existing] = await tx`select 1 from api_tokens where role = 'admin' and revoked_at is null limit 1`;
    if (existing) return undefined;
    const token = generateToken('admin');
    await tx`insert into api_tokens (id, name, token_hash, role) values (${newId('tok')}, 'admin (generated)', ${hashToken(token)}, 'admin')`;
    return token;
  });
}

