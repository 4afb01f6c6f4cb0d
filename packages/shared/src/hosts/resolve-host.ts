import { and, eq } from 'drizzle-orm';
import { hosts } from '../db/schema/hosts.ts';
import type { Db } from '../db/client.ts';
import { AppError } from '../errors/app-error.ts';
import { isId } from '../domain/ids.ts';
import { DEFAULT_ENVIRONMENT } from './host-input.ts';
import type { HostRow } from './host-view.ts';

/**
 * Find a host by `host_…` id, `name@environment`, or bare `name`. A bare name means the host of
 * that name in the `default` environment if there is one, else the only host of that name in any
 * environment; several candidates and no default is an `ambiguous_host` error rather than a guess.
 * Names cannot contain "@", so the split is unambiguous.
 */
export async function resolveHost(db: Db, ref: string, readable?: (row: HostRow) => boolean): Promise<HostRow | undefined> {
  if (isId('host', ref)) {
    const [row] = await db.select().from(hosts).where(eq(hosts.id, ref)).limit(1);
    return row;
  }
  const at = ref.lastIndexOf('@');
  if (at >= 0) {
    const [row] = await db
      .select()
      .from(hosts)
      .where(and(eq(hosts.name, ref.slice(0, at)), eq(hosts.environment, ref.slice(at + 1))))
      .limit(1);
    return row;
  }
  const all = await db.select().from(hosts).where(eq(hosts.name, ref)).limit(50);
  // `readable` (a non-admin caller, @vmo/shared/access): a bare name resolves among the hosts they
  // may read, and an ambiguity never lists an environment they may not see. With none readable it
  // resolves as before (a single hidden host is then the caller's 403 naming it).
  const visible = readable ? all.filter(readable) : all;
  const rows = visible.length > 0 ? visible : all;
  if (rows.length <= 1) return rows[0];
  const inDefault = rows.find((r) => r.environment === DEFAULT_ENVIRONMENT);
  if (inDefault) return inDefault;
  const envs = visible.length > 0 ? ` (${rows.map((r) => r.environment).sort().join(', ')})` : '';
  throw new AppError(422, 'ambiguous_host', `host name ${JSON.stringify(ref)} exists in several environments${envs}; name one as "${ref}@<environment>"`);
}
