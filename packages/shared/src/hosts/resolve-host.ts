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
export async function resolveHost(db: Db, ref: string): Promise<HostRow | undefined> {
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
  const rows = await db.select().from(hosts).where(eq(hosts.name, ref)).limit(50);
  if (rows.length <= 1) return rows[0];
  const inDefault = rows.find((r) => r.environment === DEFAULT_ENVIRONMENT);
  if (inDefault) return inDefault;
  const envs = rows.map((r) => r.environment).sort();
  throw new AppError(422, 'ambiguous_host', `host name ${JSON.stringify(ref)} exists in several environments (${envs.join(', ')}); name one as "${ref}@<environment>"`);
}
