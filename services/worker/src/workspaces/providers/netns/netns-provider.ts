import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredState, ObservedState, ProviderContext, ProviderResult, SnapshotRef, WorkspaceProvider } from '@vmo/shared/workspaces';
import { NetnsProviderConfig } from '@vmo/shared/workspaces';
import { findLease, leaseSubnet, releaseLease, subnetOf, type Subnet } from './addresses.ts';
import { agentBundleDir, nodePtyDir } from './agent-bundle.ts';
import { prepareCgroups, removeCgroups } from './cgroups.ts';
import { netnsNames } from './names.ts';
import { ensureNetwork, hostAddresses, netnsExists, removeNetwork } from './network.ts';
import { netnsOptionsFromEnv, rootFor, type NetnsOptions } from './options.ts';
import { ensureDirectories, livePid, startAgent, stopAgent, workspacePaths, writeToken } from './sandbox.ts';
import { removeWorkspaceDir, restoreSnapshot, snapshotFile, takeSnapshot } from './snapshots.ts';

/**
 * The `netns` provider (issue 18): per workspace a network namespace, a veth pair to the host (a
 * /30 out of 10.231.0.0/16), a directory `<root>/<workspace id>`, and in the namespace a bubblewrap
 * sandbox around that directory running the vmo agent, which dials the control plane over the veth.
 * Real on any root Linux host with iproute2 and bubblewrap; no Docker.
 *
 *   running: creates what is missing (namespace, veth, addresses, directory), writes the agent's
 *            token, and starts the agent unless the pidfile's agent is alive;
 *   stopped: stops the agent and everything in the namespace, deletes the namespace and veth, keeps
 *            the directory;
 *   absent:  stopped, then removes the directory and releases the subnet.
 * Everything is found again from the workspace id (names.ts, the lease files, the pidfile), so a
 * worker that takes over after a crash needs nothing from the one before; `state` is a record.
 */
export function createNetnsProvider(options: NetnsOptions = netnsOptionsFromEnv()): WorkspaceProvider {
  const leaseDir = join(options.stateDir, 'leases');

  function where(ctx: ProviderContext) {
    const root = rootFor(ctx.config, options);
    return { root, names: netnsNames(ctx.workspaceId, options.namePrefix), paths: workspacePaths(root, ctx.workspaceId) };
  }

  async function status(ctx: ProviderContext): Promise<ObservedState> {
    const { names, paths } = where(ctx);
    if ((await livePid(paths)) !== undefined) return 'running';
    const dir = await access(paths.dir).then(() => true, () => false);
    return dir || (await netnsExists(names.netns, ctx.signal)) ? 'stopped' : 'not_found';
  }

  async function assertStopped(ctx: ProviderContext, what: string): Promise<void> {
    if ((await status(ctx)) === 'running') throw new Error(`netns: ${what} needs the workspace stopped (its agent is running)`);
  }

  return {
    kind: 'netns',
    hostBound: true, // sandboxes, namespaces and rootfs are this host's (engine: provider_state.host)
    status,

    async converge(ctx: ProviderContext, desired: DesiredState): Promise<ProviderResult> {
      const { root, names, paths } = where(ctx);
      const config = NetnsProviderConfig.parse(ctx.config);
      const hint = typeof ctx.state?.subnet === 'number' ? ctx.state.subnet : undefined;

      if (desired === 'running') {
        if (!ctx.agent) throw new Error('netns: converge(running) needs the agent launch (url and token)');
        await ensureDirectories(paths);
        const subnet = await leaseSubnet(leaseDir, ctx.workspaceId, await hostAddresses(ctx.signal), { hint });
        await ensureNetwork(names, subnet, ctx.log, ctx.signal);
        // Written at every start: the engine rotates the token, and a running agent reads the file
        // again when it reconnects.
        await writeToken(paths, ctx.agent.token);
        const cgroupProcs = await prepareCgroups(names.netns, { ...(config.cpuQuota !== undefined ? { cpuQuota: config.cpuQuota } : {}), ...(config.memoryMiB !== undefined ? { memoryMiB: config.memoryMiB } : {}) }, ctx.log);
        if ((await livePid(paths)) !== undefined) {
          ctx.log('the agent is already running');
        } else {
          // Anything left in the namespace without a live pidfile (a worker killed between the
          // spawn and the pidfile) goes first: one environment, never two agents.
          await stopAgent(paths, names.netns, 0, ctx.log);
          ctx.signal.throwIfAborted();
          const agentDir = await agentBundleDir({ stateDir: options.stateDir, serverUrl: ctx.agent.url, localBundle: options.localAgentBundle, signal: ctx.signal, log: ctx.log });
          const pty = nodePtyDir();
          const serverUrl = urlFromNamespace(ctx.agent.url, subnet.hostAddress);
          const pid = await startAgent(paths, {
            netns: names.netns,
            hostname: ctx.workspaceName,
            serverUrl,
            labels: ctx.agent.labels,
            agentDir,
            ...(pty ? { nodePtyDir: pty } : {}),
            nodePath: options.nodePath,
            drainMs: Math.max(0, options.stopGraceMs - 2000),
            cgroupProcs,
          });
          ctx.log(`started the agent in ${names.netns} (pid ${pid}), dialing ${new URL(serverUrl).origin}`);
        }
        return result(names, paths.data, subnet);
      }

      await stopAgent(paths, names.netns, options.stopGraceMs, ctx.log);
      await removeNetwork(names, ctx.log, ctx.signal);
      await removeCgroups(names.netns);
      // The token is dead once stopped (the next start gets a new one): do not keep it at rest.
      await rm(paths.tokenFile, { force: true });
      if (desired === 'stopped') {
        const held = await findLease(leaseDir, ctx.workspaceId, hint);
        return result(names, paths.data, held !== undefined ? subnetOf(held) : undefined);
      }
      if (await removeWorkspaceDir(root, paths.dir, ctx.workspaceId)) ctx.log(`removed ${paths.dir}`);
      await releaseLease(leaseDir, ctx.workspaceId);
      return { state: null };
    },

    async snapshot(ctx, snapshot): Promise<SnapshotRef> {
      await assertStopped(ctx, 'a snapshot');
      const { root, paths } = where(ctx);
      const taken = await takeSnapshot(paths, root, snapshot.id, ctx.signal);
      ctx.log(`archived ${paths.data} (${taken.sizeBytes} bytes)`);
      return taken;
    },

    async restore(ctx, snapshot): Promise<ProviderResult> {
      await assertStopped(ctx, 'a restore');
      const { root, names, paths } = where(ctx);
      const file = snapshotFile(snapshot.ref, snapshot.id, [...options.allowedRoots, root]);
      await ensureDirectories(paths);
      await restoreSnapshot(paths, file, ctx.signal);
      ctx.log(`restored ${paths.data} from snapshot ${snapshot.id}`);
      const hint = typeof ctx.state?.subnet === 'number' ? ctx.state.subnet : undefined;
      return result(names, paths.data, hint !== undefined ? subnetOf(hint) : undefined);
    },

    async deleteSnapshot(ctx, snapshot): Promise<void> {
      const { root } = where(ctx);
      const file = snapshotFile(snapshot.ref, snapshot.id, [...options.allowedRoots, root]);
      await rm(file, { force: true });
    },
  };
}

function result(names: ReturnType<typeof netnsNames>, directory: string, subnet: Subnet | undefined): ProviderResult {
  return {
    state: { netns: names.netns, vethHost: names.vethHost, directory, ...(subnet ? { subnet: subnet.index, hostAddress: subnet.hostAddress, address: subnet.nsAddress } : {}) },
    resources: { directory, netns: names.netns, ...(subnet ? { address: subnet.nsAddress } : {}) },
  };
}

/**
 * The control plane's URL as the namespace reaches it. Inside the namespace 127.0.0.1 is the
 * namespace's own loopback, so a loopback host (or 0.0.0.0) becomes the veth's host end, where the
 * API must listen (VMO_HOST=0.0.0.0, its default, or that address). Any other host is kept: the
 * operator routes it (forwarding and NAT for the 10.231.0.0/16 pool).
 */
export function urlFromNamespace(url: string, hostAddress: string): string {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || host === '0.0.0.0' || host === '::' || /^127\./.test(host)) u.hostname = hostAddress;
  return u.toString().replace(/\/$/, '');
}

export const netnsProvider = (): WorkspaceProvider => createNetnsProvider();
