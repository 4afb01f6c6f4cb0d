import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import { endShellSessionsHeldBy, markShellNode, clearShellNode, shellHolderNodes, shellNodeAlive } from '@vmo/shared/shells';

/**
 * Timings of the host-shell holders' presence, which depend on each other:
 * - the key lives SHELL_NODE_TTL_MS and is refreshed three times in it, so one late or lost write
 *   never lets a live node's key expire;
 * - a key found gone is judged dead only when it is still gone SHELL_NODE_CONFIRM_MS later (two
 *   refreshes): a Redis restarted empty or failed over loses every key at once, and each live node
 *   writes its own back within one refresh, so no live node's sessions are ended for it;
 * - the sweep looks every SHELL_NODE_SWEEP_MS. A node killed -9 has its sessions ended at most
 *   TTL + confirm + 2 sweeps after its last write (~22 s).
 */
export const SHELL_NODE_TTL_MS = 10_000;
export const SHELL_NODE_REFRESH_MS = Math.floor(SHELL_NODE_TTL_MS / 3);
export const SHELL_NODE_CONFIRM_MS = 2 * SHELL_NODE_REFRESH_MS;
export const SHELL_NODE_SWEEP_MS = 3_000;

/**
 * This API node as a holder of SSH hosts' terminals (SHELL.md §S8): its id (written on the rows of
 * the host sessions it opens), its presence key, and the sweep that ends the open host sessions of
 * nodes whose key is gone (killed -9, machine lost; the next node to start does it too). Every API
 * node sweeps; the end is one conditional UPDATE per dead node, so several sweeping at once end
 * each session once.
 */
export class HostShellNode {
  /** Host, pid and a random part: an operator reading `holder_node` knows the process; a restart is a new node. */
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private marked = false;
  private stopped = false;
  /** Nodes whose key was found gone, and when first: ended once still gone SHELL_NODE_CONFIRM_MS later. */
  private readonly suspects = new Map<string, number>();
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly sweepTimer: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly deps: { cp: ControlPlane; log: Logger },
    /** After each sweep: the holder checks its own sessions (host-shells.ts). */
    private readonly afterSweep: () => Promise<void> = async () => {},
  ) {
    void this.mark().catch(() => {});
    this.refreshTimer = setInterval(() => void this.mark().catch((err: Error) => this.deps.log.warn({ err: err.message, node: this.id }, 'host-shell node presence not refreshed')), SHELL_NODE_REFRESH_MS);
    this.refreshTimer.unref();
    this.sweepTimer = setInterval(() => void this.sweep(), SHELL_NODE_SWEEP_MS);
    this.sweepTimer.unref();
    void this.sweep(); // at start: a node that died before this one started is ended without waiting a period
  }

  /**
   * LOUD: before a row names this node, its key must exist, or another node's sweep could find a
   * session of a live node without a key and end it. Throws when Redis does not answer (the
   * upgrade is refused 503), rather than writing a row nobody could tell alive.
   */
  async ready(): Promise<void> {
    if (!this.marked) await this.mark();
  }

  private async mark(): Promise<void> {
    if (this.stopped) return;
    await markShellNode(this.deps.cp, this.id, SHELL_NODE_TTL_MS);
    this.marked = true;
  }

  /** One pass; never rejects (a store outage is a pass skipped). Public for tests and the start. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const nodes = (await shellHolderNodes(this.deps.cp)).filter((n) => n !== this.id);
      const now = Date.now();
      for (const [node] of this.suspects) if (!nodes.includes(node)) this.suspects.delete(node);
      for (const node of nodes) {
        // Redis not answering is not a death: only a key Redis says is gone counts.
        if (await shellNodeAlive(this.deps.cp, node)) {
          this.suspects.delete(node);
          continue;
        }
        const since = this.suspects.get(node);
        if (since === undefined) {
          this.suspects.set(node, now);
          continue;
        }
        if (now - since < SHELL_NODE_CONFIRM_MS) continue;
        this.suspects.delete(node);
        const ended = await endShellSessionsHeldBy(this.deps.cp, node, 'server_lost');
        if (ended.length > 0) this.deps.log.warn({ node, sessions: ended.map((r) => r.id) }, 'host shells ended: the API node holding them stopped unannounced (server_lost)');
      }
      await this.afterSweep();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'host-shell sweep skipped: a store did not answer');
    } finally {
      this.sweeping = false;
    }
  }

  /** Stopping, after this node's sessions were ended: its key goes at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.sweepTimer);
    await clearShellNode(this.deps.cp, this.id).catch(() => {});
  }
}
