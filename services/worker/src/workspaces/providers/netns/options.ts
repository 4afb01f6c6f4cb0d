import { resolve, sep } from 'node:path';
import { NetnsProviderConfig } from '@vmo/shared/workspaces';

/**
 * The operator's side of the netns provider (the worker's environment), as opposed to a template's
 * `config`: where things may live on this host. A template may pick its own `directoryRoot`, but
 * only one of `allowedRoots` (or a directory under one): templates are data, and `absent` deletes
 * directories under the root, so a template must not be able to point it at the host's files.
 */
export interface NetnsOptions {
  /** Default root of workspace directories (VMO_NETNS_ROOT, default /var/lib/vmo/workspaces). */
  directoryRoot: string;
  /** Roots a template's `directoryRoot` may name (VMO_NETNS_ALLOWED_ROOTS, comma list; default: directoryRoot). */
  allowedRoots: string[];
  /** Host-wide state: subnet leases and the cached agent (VMO_NETNS_STATE_DIR, default /var/lib/vmo/netns). */
  stateDir: string;
  /** Prefix of namespace and interface names, 1-4 characters (VMO_NETNS_NAME_PREFIX, default `vmo`; tests use their own). */
  namePrefix: string;
  /** A built vmo-agent.mjs to run instead of downloading the control plane's (VMO_NETNS_AGENT_BUNDLE). */
  localAgentBundle?: string;
  /** How long the agent may drain on stop before SIGKILL (VMO_NETNS_STOP_GRACE_MS, default 10000). */
  stopGraceMs: number;
  /** The node binary the sandbox runs the agent with (bound read-only when outside /usr). */
  nodePath: string;
}

export function netnsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): NetnsOptions {
  const directoryRoot = resolve(env.VMO_NETNS_ROOT || '/var/lib/vmo/workspaces');
  const grace = Number(env.VMO_NETNS_STOP_GRACE_MS ?? 10_000);
  return {
    directoryRoot,
    allowedRoots: (env.VMO_NETNS_ALLOWED_ROOTS ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((r) => resolve(r)).concat(directoryRoot),
    stateDir: resolve(env.VMO_NETNS_STATE_DIR || '/var/lib/vmo/netns'),
    namePrefix: env.VMO_NETNS_NAME_PREFIX || 'vmo',
    ...(env.VMO_NETNS_AGENT_BUNDLE ? { localAgentBundle: resolve(env.VMO_NETNS_AGENT_BUNDLE) } : {}),
    stopGraceMs: Number.isFinite(grace) && grace >= 0 ? grace : 10_000,
    nodePath: process.execPath,
  };
}

const within = (dir: string, root: string) => dir === root || dir.startsWith(root.endsWith(sep) ? root : root + sep);

/** The root of this template's workspace directories: its config's, if allowed, else the default. */
export function rootFor(config: Record<string, unknown>, opts: NetnsOptions): string {
  const parsed = NetnsProviderConfig.parse(config);
  const root = resolve(parsed.directoryRoot ?? opts.directoryRoot);
  // LOUD: never `/` nor anything outside the operator's roots: `absent` removes `<root>/<id>`.
  if (root === '/' || !opts.allowedRoots.some((allowed) => within(root, allowed))) {
    throw new Error(`netns: directoryRoot ${root} is not one this worker allows (VMO_NETNS_ALLOWED_ROOTS: ${opts.allowedRoots.join(', ')})`);
  }
  return root;
}

export { within };
