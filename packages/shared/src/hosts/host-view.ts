import type { hosts } from '../db/schema/hosts.ts';

export type HostRow = typeof hosts.$inferSelect;

/** The host as the API shows it; `ref` is what a job target may use to name it. */
export function hostView(row: HostRow) {
  return {
    id: row.id,
    ref: `${row.name}@${row.environment}`,
    name: row.name,
    environment: row.environment,
    host: row.host,
    user: row.user,
    port: row.port,
    description: row.description,
    labels: row.labels,
    identityFile: row.identityFile,
    proxyJump: row.proxyJump,
    hostKeyPolicy: row.hostKeyPolicy,
    pinnedHostKeys: row.pinnedHostKeys,
    maxConcurrentJobs: row.maxConcurrentJobs,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
export type HostView = ReturnType<typeof hostView>;
export type { HostKeyPolicy } from '../db/schema/hosts.ts';
