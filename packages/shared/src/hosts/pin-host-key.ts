import type { Sql } from 'postgres';

/**
 * accept-new: pin `key` as the host's first key, only if nothing is pinned yet. Returns the
 * pinned list as it stands afterwards, so a caller racing another connection sees the winner's
 * key and compares against it instead of trusting its own.
 *
 * LOUD: the `jsonb_array_length = 0` condition is the whole of trust-on-first-use; without it a
 * second, different key would be appended and accepted.
 */
export async function pinFirstHostKey(sql: Sql, hostId: string, key: string): Promise<string[] | undefined> {
  const [pinned] = await sql<{ pinned_host_keys: string[] }[]>`
    update hosts set pinned_host_keys = ${JSON.stringify([key])}::jsonb
    where id = ${hostId} and jsonb_array_length(pinned_host_keys) = 0
    returning pinned_host_keys`;
  if (pinned) return pinned.pinned_host_keys;
  const [current] = await sql<{ pinned_host_keys: string[] }[]>`select pinned_host_keys from hosts where id = ${hostId}`;
  return current?.pinned_host_keys;
}
