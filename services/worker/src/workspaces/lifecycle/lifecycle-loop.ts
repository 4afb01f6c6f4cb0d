import { repeatInBackground, type BackgroundLoop } from '@vmo/shared/background';
import type { ControlPlane } from '@vmo/shared/control-plane';
import { runLifecyclePass, type LifecyclePassOptions } from './lifecycle-pass.ts';

/**
 * The workspace lifecycle (issue 18): every worker runs this loop, every `everyMs`
 * (VMO_WORKSPACE_LIFECYCLE_INTERVAL_MS, 1 s by default). No leader: every rule acts through
 * requestOperation, whose one-active-operation index makes the passes of several workers at once
 * one operation, and autostart ticks and session steps are claimed in Postgres (autostart.ts,
 * session-steps.ts). The clock is injectable for tests.
 */
export function startWorkspaceLifecycleLoop(cp: ControlPlane, opts: { everyMs: number } & Partial<LifecyclePassOptions>): BackgroundLoop {
  const now = opts.now ?? (() => new Date());
  return repeatInBackground(cp.log, 'workspace lifecycle', opts.everyMs, () => runLifecyclePass(cp, { ...opts, now }));
}
