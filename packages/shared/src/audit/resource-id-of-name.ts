import type { Sql } from 'postgres';
import { DEFAULT_ENVIRONMENT } from '../hosts/host-input.ts';

/** The resources whose paths take a name as well as an id (`/v1/agents/web-1`, `/v1/hosts/db-1@prod`, `/v1/users/alice`). */
const ID_PREFIX: Record<string, string> = { agents: 'agt_', hosts: 'host_', users: 'usr_' };

/** Whether `resourceIdOfName` can say what `ref` names: a resource with names, and a ref that is not already an id. */
export const namesResource = (resourceType: string, ref: string): boolean => {
  const prefix = ID_PREFIX[resourceType];
  return prefix !== undefined && !ref.startsWith(prefix);
};

/**
 * The id of the agent, host or user a path names, as the routes resolve it (a live agent of that
 * name; a host by `name@environment`, or a bare name in `default` or in a single environment; a
 * user by name); undefined when none does (or several hosts could). One indexed query.
 *
 * The audit asks this BEFORE the request runs: after a DELETE the row it named is gone, and the
 * audit row must still say which resource it was (resource_id), beside the name as typed (detail.ref).
 */
export async function resourceIdOfName(sql: Sql, resourceType: string, ref: string): Promise<string | undefined> {
  switch (resourceType) {
    case 'agents': {
      const [row] = await sql<{ id: string }[]>`select id from agents where name = ${ref} and revoked_at is null limit 1`;
      return row?.id;
    }
    case 'users': {
      const [row] = await sql<{ id: string }[]>`select id from users where name = ${ref} limit 1`;
      return row?.id;
    }
    case 'hosts': {
      const at = ref.lastIndexOf('@');
      if (at >= 0) {
        const [row] = await sql<{ id: string }[]>`select id from hosts where name = ${ref.slice(0, at)} and environment = ${ref.slice(at + 1)} limit 1`;
        return row?.id;
      }
      const rows = await sql<{ id: string; environment: string }[]>`select id, environment from hosts where name = ${ref} limit 50`;
      if (rows.length <= 1) return rows[0]?.id;
      return rows.find((r) => r.environment === DEFAULT_ENVIRONMENT)?.id;
    }
    default:
      return undefined;
  }
}
