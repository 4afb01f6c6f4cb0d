import type { ProviderKind } from '../domain/workspace.ts';

/**
 * The one provider contract (issue 18). A provider converges a workspace's machine to a desired
 * state, and is:
 * - idempotent by workspace id: `converge(running)` twice leaves one environment; `stopped` when
 *   stopped and `absent` when gone succeed without doing anything;
 * - restartable: a worker killed midway and the operation run again by another worker leaves
 *   exactly one environment (so a provider finds what an earlier try made from the workspace id
 *   and `state`, never from memory);
 * - cancellable: it stops promptly when `signal` aborts, leaving something `stopped`/`absent` can
 *   clean up;
 * - stateless between calls: what it needs next time it returns as `state`; the control plane
 *   stores it (workspaces.provider_state) and hands it back.
 * A workspace is ready when its agent connects, not when `converge(running)` returns: the
 * provider only starts the agent with `ctx.agent`.
 */
export type DesiredState = 'running' | 'stopped' | 'absent';

/** What `status` reports (DevPod's words). */
export type ObservedState = 'running' | 'busy' | 'stopped' | 'not_found';

export interface AgentLaunch {
  /** The control plane's URL as the machine can reach it (http(s)://…; the agent dials /v1/agent/connect). */
  url: string;
  /** The agent's token, rotated at each start: pass it to the agent, never log it. */
  token: string;
  name: string;
  labels: Record<string, string>;
}

export interface ProviderContext {
  workspaceId: string;
  workspaceName: string;
  /** The template version's config, already validated against the provider's schema. */
  config: Record<string, unknown>;
  /** The workspace's parameter values (template defaults applied). */
  params: Record<string, string>;
  /** What the previous call returned; null on the first. */
  state: Record<string, unknown> | null;
  /** Present when the desired state is `running`. */
  agent?: AgentLaunch;
  /** A line for the operation's log (streamed live). Never pass secrets. */
  log(line: string): void;
  /** Aborted when the operation is canceled or the worker shuts down. */
  signal: AbortSignal;
}

export interface ProviderResult {
  /** Stored and handed back next time; null clears it (after `absent`). */
  state: Record<string, unknown> | null;
  /** What it runs on, for the workspace view (e.g. {cpu: 2, memoryMiB: 4096, directory: '/var/lib/…'}). */
  resources?: Record<string, string | number>;
  /** Overrides the template's costPerHour when the provider knows better. */
  costPerHour?: number;
}

export interface SnapshotRef {
  ref: Record<string, unknown>;
  sizeBytes: number;
}

export interface WorkspaceProvider {
  readonly kind: ProviderKind;
  /**
   * LOUD: its machines live on the worker's own host (local disk, kernel namespaces): once it ran a
   * workspace, only workers of that host (VMO_WORKER_HOST_ID) may operate it, else a stop or delete
   * run elsewhere "succeeds" doing nothing. The engine records the host in provider_state.host.
   */
  readonly hostBound?: boolean;
  converge(ctx: ProviderContext, desired: DesiredState): Promise<ProviderResult>;
  status(ctx: ProviderContext): Promise<ObservedState>;
  /** On a stopped workspace; absent when the provider cannot snapshot (409 snapshot_unsupported). */
  snapshot?(ctx: ProviderContext, snapshot: { id: string; name: string }): Promise<SnapshotRef>;
  /** Into a stopped workspace (this one or a new one); returns its new state. */
  restore?(ctx: ProviderContext, snapshot: { id: string; ref: Record<string, unknown> }): Promise<ProviderResult>;
  /** Deletes a snapshot's data (its row is deleted by the caller). */
  deleteSnapshot?(ctx: ProviderContext, snapshot: { id: string; ref: Record<string, unknown> }): Promise<void>;
}
