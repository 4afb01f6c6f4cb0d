import { FEATURE_SHELL, type AgentShellAttached, type AgentShellError, type AgentShellExit } from '@vmo/shared/protocol';
import type { AgentCommand, BusSubscriber, Unlisten } from '@vmo/shared/bus';
import type { ControlPlane } from '@vmo/shared/control-plane';
import type { Logger } from '@vmo/shared/logger';
import { endedShellSessions, endShellSessionsHeldBy, ShellHolder, type ShellFrame, type ShellLink } from '@vmo/shared/shells';
import { createSshPool, openSshShell, type SshConfig, type SshConnectionPool } from '@vmo/ssh';
import { ShellRelayHolder } from '../gateway/shell-relay-holder.ts';
import { HostShellNode } from './host-shell-node.ts';

type ShellCommand = Extract<AgentCommand, { type: `shell_${string}` }>;

interface HeldHost {
  holder: ShellHolder;
  relay: ShellRelayHolder;
  listening: Promise<Unlisten>;
}

const SHELL_FEATURES: ReadonlySet<string> = new Set([FEATURE_SHELL]);
/** How long a session held here may take to send its first `shell_open`. */
const EXPECT_OPEN_MS = 60_000;
/** An idle host's bus subscription is dropped this long after its last session went. */
const SWEEP_MS = 30_000;
/** Stopping: how long the hang-ups and the recording of their last bytes may take before the node goes anyway. */
const CLOSE_MS = 10_000;

/**
 * SSH hosts' shells held by THIS API node (SHELL.md §S4–§S7 for `GET /v1/hosts/{id}/shell`): for
 * each host with a session here, a ShellHolder (the agent's session side, @vmo/shared/shells)
 * whose terminals are ssh2 channels on a pool like the SSH executor's (@vmo/ssh ssh-shell.ts), and a
 * ShellRelayHolder (the gateway's relay and recording, as for an agent's socket). It listens on
 * the host's `agent:{hostId}` channel exactly as a gateway node listens for its agent, so
 * ShellAttachment, the recording, audit, replay and every client work unchanged, and a reattach
 * that reaches another API node still finds this one through the bus. (Host ids are `hst_…`,
 * never an agent's: the channel is the host's alone.)
 *
 * NOTE for the next person: the design (design.md) wants these terminals in a worker. They are in
 * the API node that answered the opening upgrade because the relay path has no way yet to pick
 * one worker for a new session (a claim, a worker-side bus listener and the recording moved out of
 * services/api): a job for another day. Consequences: this node needs the worker's VMO_SSH_*
 * settings (its own env, ssh-env.ts) and read access to the identity files (VMO_SSH_KEY_DIRS), and its restart ends its
 * host shells: a node that stops ends their rows (`server_restarted`) and hangs them up; one that
 * dies has them ended by another node, or the next to start, once its presence is gone
 * (`server_lost`, host-shell-node.ts). Each row names its node (`holder_node`).
 */
export class HostShells {
  private readonly hosts = new Map<string, HeldHost>();
  /** Sessions this node opened and will create on their first `shell_open` (another node's are not ours to start). */
  private readonly expected = new Set<string>();
  private pool: SshConnectionPool | undefined;
  private readonly sweep: NodeJS.Timeout;
  private readonly node: HostShellNode;

  constructor(private readonly deps: { cp: ControlPlane; bus: BusSubscriber; log: Logger; ssh: SshConfig; recordShellInput?: boolean | undefined }) {
    this.sweep = setInterval(() => this.dropIdle(), SWEEP_MS);
    this.sweep.unref();
    this.node = new HostShellNode({ cp: deps.cp, log: deps.log }, () => this.killEnded());
  }

  /** What a new host session's row names as its holder (`holder_node`). */
  get nodeId(): string {
    return this.node.id;
  }

  /**
   * Before the 101 of a new session: this node holds it. Resolves once the host's commands are
   * heard here, so the attachment's first `shell_open` cannot be missed.
   */
  async hold(hostId: string, session: string): Promise<void> {
    await this.node.ready(); // the row about to name this node must find its key (host-shell-node.ts)
    this.expected.add(session);
    // An upgrade that fails after this never sends its open: forget it (the attachment gives up after 15 s).
    setTimeout(() => this.expected.delete(session), EXPECT_OPEN_MS).unref();
    await this.host(hostId).listening;
  }

  /**
   * Stopping: every host shell held here ends. LOUD: the rows first (`server_restarted`, one
   * UPDATE by holder_node, sessions not yet created included), so no row is left open for ever
   * and a client reconnecting elsewhere is told the session is gone instead of waiting on a
   * holder that is no more; then the hang-up (its terminal's processes get SIGHUP), then the
   * recording of what they wrote last, before the database is closed. Then the presence key.
   */
  async close(): Promise<void> {
    clearInterval(this.sweep);
    const ended = await endShellSessionsHeldBy(this.deps.cp, this.node.id, 'server_restarted').catch((err: Error) => {
      // Its key then expires and another node (or the next start) ends them as server_lost.
      this.deps.log.warn({ err: err.message, node: this.node.id }, 'host shells not ended at stop: the store did not answer');
      return [];
    });
    if (ended.length > 0) this.deps.log.info({ node: this.node.id, sessions: ended.length }, 'host shells ended: this node is stopping (server_restarted)');
    const hosts = [...this.hosts.values()];
    const done = (async () => {
      await Promise.all(hosts.map((h) => h.holder.killAll()));
      await Promise.all(hosts.map((h) => h.relay.settled()));
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_MS)))]);
    clearTimeout(timer);
    for (const h of hosts) void h.listening.then((unlisten) => unlisten(), () => {});
    this.hosts.clear();
    await this.pool?.close();
    await this.node.stop();
  }

  /**
   * After each presence sweep: a session held here whose row has ended by another hand (another
   * node judged this one dead while Redis could not hear it) is killed, so no terminal outlives
   * its row (a reattach is refused, nothing more would be recorded).
   */
  private async killEnded(): Promise<void> {
    for (const [hostId, h] of this.hosts) {
      for (const session of await endedShellSessions(this.deps.cp, h.holder.running())) {
        this.deps.log.warn({ hostId, session }, 'host shell killed: its session was ended elsewhere');
        void h.holder.kill(session);
      }
    }
  }

  private host(hostId: string): HeldHost {
    let held = this.hosts.get(hostId);
    if (held) return held;
    const { cp, bus, log } = this.deps;
    const relay = new ShellRelayHolder(hostId, SHELL_FEATURES, { cp, log, recordShellInput: this.deps.recordShellInput }, undefined, 'system');
    // Published at once (Redis is the socket): nothing buffers here, so no backpressure of our own (§S6 is the attachments' acks).
    const link: ShellLink = {
      sendOutput: (frame) => (relay.output(frame), true),
      sendJson: (msg) => (relay.fromAgent(msg as AgentShellAttached | AgentShellExit | AgentShellError), true),
      bufferedAmount: 0,
    };
    const holder = new ShellHolder(
      (open) => openSshShell({ database: cp.database, pool: this.sshPool(), log }, hostId, { session: open.session, cols: open.cols, rows: open.rows, command: open.command }),
      link,
      { info: (msg, fields) => log.info({ hostId, ...fields }, msg) },
    );
    const listening = bus.agentCommands(hostId, (msg) => {
      if (msg.type.startsWith('shell_')) this.onCommand(held!, msg as ShellCommand);
    });
    held = { holder, relay, listening };
    this.hosts.set(hostId, held);
    listening.catch(() => this.hosts.delete(hostId));
    return held;
  }

  private onCommand(held: HeldHost, msg: ShellCommand): void {
    // LOUD: every node holding shells on this host hears every command for it: only the holder
    // of a session answers (a `session_not_found` from another node would end a live session's
    // attachment), and only the node that opened a session creates it.
    const ours = held.holder.has(msg.session) || (msg.type === 'shell_open' && msg.create && this.expected.has(msg.session));
    if (!ours) return;
    if (msg.type === 'shell_open') this.expected.delete(msg.session);
    const frame = held.relay.toAgent(msg);
    if (frame) held.holder.handle(frame as ShellFrame);
  }

  private sshPool(): SshConnectionPool {
    this.pool ??= createSshPool(this.deps.ssh, this.deps.cp.database, this.deps.log);
    return this.pool;
  }

  private dropIdle(): void {
    for (const [hostId, h] of this.hosts) {
      if (h.holder.size > 0 || this.expected.size > 0) continue;
      this.hosts.delete(hostId);
      void h.listening.then((unlisten) => unlisten(), () => {});
    }
  }
}
