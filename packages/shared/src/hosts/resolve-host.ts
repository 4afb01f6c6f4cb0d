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
 *
 * `readable` (a non-admin caller, @vmo/shared/access): only the hosts they may read are
 * candidates, in every branch. A hidden host is nobody's (undefined, as for a host that does not
 * exist), and a bare name resolves, and is judged ambiguous, among readable hosts only: hidden
 * hosts of the same name neither win over a readable one nor make it ambiguous (issue 11: no
 * existence oracle). POST /v1/runs resolves its host lists by the same rule (runs/resolve-run-targets.ts).
 */
export async function resolveHost(db: Db, ref: string, readable?: (row: HostRow) => boolean): Promise<HostRow | undefined> {
  const seen = (row: HostRow | undefined): HostRow | undefined => (row && (!readable || readable(row)) ? row : undefined);
  if (isId('host', ref)) {
    const [row] = await db.select().from(hosts).where(eq(hosts.id, ref)).limit(1);
    return seen(row);
  }
  const at = ref.lastIndexOf('@');
  if (at >= 0) {
    const [row] = await db
      .select()
      .from(hosts)
      .where(and(eq(hosts.name, ref.slice(0, at)), eq(hosts.environment, ref.slice(at + 1))))
      .limit(1);
    return seen(row);
  }
  const all = await db.select().from(hosts).where(eq(hosts.name, ref)).limit(50);
  const rows = readable ? all.filter(readable) : all;
  if (rows.length <= 1) return rows[0];
  const inDefault = rows.find((r) => r.environment === DEFAULT_ENVIRONMENT);
  if (inDefault) return inDefault;
  const envs = rows.map((r) => r.environment).sort().join(', ');
  throw new AppError(422, 'ambiguous_host', `host name ${JSON.stringify(ref)} exists in several environments (${envs}); name one as "${ref}@<environment>"`);
}
