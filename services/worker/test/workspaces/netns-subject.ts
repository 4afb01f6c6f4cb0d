/**
 * The netns provider as the contract suite's subject (netns-provider.test.ts), also imported by the
 * kill case's child process (converge-child.ts): the temp dir, the name prefix and the agent bundle
 * are fixed once in the environment, which the child inherits.
 *
 * No control plane here: the agent is a locally built bundle dialing a port where nothing listens
 * (it retries, and stays running, which is what the cases look at). A "slow" start is the real
 * converge followed by a 30 s wait (cancellable): the environment exists, the start is not over.
 * One environment = the workspace's directory, plus one for every extra process group running in
 * its namespace (two sandboxes would count 2).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkspaceProvider } from '@vmo/shared/workspaces';
import { netnsNames } from '../../src/workspaces/providers/netns/names.ts';
import { createNetnsProvider } from '../../src/workspaces/providers/netns/netns-provider.ts';
import type { NetnsOptions } from '../../src/workspaces/providers/netns/options.ts';
import { netnsTestPrefix } from '@vmo/testkit';
import type { MakeContractContext } from './provider-contract.ts';

process.env.NETNS_CONTRACT_TMP ??= mkdtempSync('/tmp/vmo-netns-');
process.env.NETNS_CONTRACT_PREFIX ??= netnsTestPrefix();
export const TMP = process.env.NETNS_CONTRACT_TMP;
export const PREFIX = process.env.NETNS_CONTRACT_PREFIX;

const bundle = join(TMP, 'vmo-agent.mjs');
if (!existsSync(bundle)) {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../../agent/build.mjs', import.meta.url)), bundle], { stdio: 'ignore' });
}

export const options: NetnsOptions = {
  directoryRoot: join(TMP, 'workspaces'),
  allowedRoots: [join(TMP, 'workspaces')],
  stateDir: join(TMP, 'state'),
  namePrefix: PREFIX,
  localAgentBundle: bundle,
  stopGraceMs: 3000,
  nodePath: process.execPath,
};

export function makeProvider(): WorkspaceProvider {
  const inner = createNetnsProvider(options);
  return {
    ...inner,
    async converge(ctx, desired) {
      const result = await inner.converge(ctx, desired);
      if (desired === 'running' && ctx.config.slow === true) await sleep(30_000, undefined, { signal: ctx.signal });
      return result;
    },
  };
}

export const makeContext: MakeContractContext = ({ workspaceId, state, signal, slow, log }) => ({
  workspaceId,
  workspaceName: `c-${workspaceId.slice(-8)}`,
  config: slow ? { slow: true } : {},
  params: {},
  state,
  agent: { url: 'http://127.0.0.1:9', token: 'vmo_agt_netnscontractnotarealtoken', name: workspaceId, labels: {} },
  log,
  signal,
});

export async function inspect(workspaceId: string): Promise<number> {
  if (!existsSync(join(options.directoryRoot, workspaceId))) return 0;
  const { netns } = netnsNames(workspaceId, PREFIX);
  const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').some((l) => l.split(' ')[0] === netns);
  if (!listed) return 1;
  const groups = new Set<number>();
  for (const pid of execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    try {
      const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'latin1' });
      groups.add(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]));
    } catch {
      // gone meanwhile
    }
  }
  return 1 + Math.max(0, groups.size - 1);
}
