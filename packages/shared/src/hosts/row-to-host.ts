import type { Row } from 'postgres';
import type { HostRow } from './host-view.ts';

/** A raw postgres.js `hosts` row as the drizzle row type. */
export function rowToHost(r: Row): HostRow {
  return {
    id: r.id,
    name: r.name,
    environment: r.environment,
    host: r.host,
    user: r.user,
    port: r.port,
    description: r.description,
    labels: r.labels,
    identityFile: r.identity_file,
    proxyJump: r.proxy_jump,
    hostKeyPolicy: r.host_key_policy,
    pinnedHostKeys: r.pinned_host_keys,
    maxConcurrentJobs: r.max_concurrent_jobs ?? null,
    // drizzle's postgres-js driver turns off postgres.js's date parsing on the shared client: strings arrive.
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}
