import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDirLock } from '../../../scripts/dir-lock.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The built entry of each role, as `npm run build` (scripts/build-services.mjs) writes it and
 * production runs it (README "Processes"); the names are build-services.mjs's.
 */
export const BUILT_ENTRY = {
  api: { file: 'services/api/dist/main.mjs', build: 'api' },
  worker: { file: 'services/worker/dist/main.mjs', build: 'worker' },
  agent: { file: 'services/agent/dist/vmo-agent.mjs', build: 'agent' },
  all: { file: 'apps/vmo/dist/main.mjs', build: 'app' },
} as const;
export type BuiltRole = keyof typeof BUILT_ENTRY;

/** Run the services from the built files instead of under tsx: `VMO_TEST_BUILT=1`. */
export const builtByDefault = (): boolean => process.env.VMO_TEST_BUILT === '1';

const LOCK = join(ROOT, 'node_modules', '.vmo-build-services.lock');
/** Roles this process has already checked: a run starts dozens of processes, one check each is enough. */
const checked = new Set<BuiltRole>();

/**
 * Make the built file of `role` fresh: build-services.mjs `--if-stale` (the same staleness rule
 * as `npm start`), one build at a time across processes (test files and the bench side by side)
 * under a lock directory; the build itself writes beside and renames, so a process starting
 * meanwhile never reads half a file. Synchronous (ServiceProcess spawns in its constructor); the
 * check costs ~70 ms once per role per process, a build under a second.
 * Throws with the build's output when it fails.
 */
export function ensureBuilt(role: BuiltRole): string {
  const entry = BUILT_ENTRY[role];
  if (!checked.has(role)) {
    withDirLock(LOCK, () => {
      const result = spawnSync(process.execPath, [join(ROOT, 'scripts/build-services.mjs'), '--if-stale', entry.build], { cwd: ROOT, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`building ${entry.file} failed (exit ${result.status ?? result.signal}):\n${result.stderr}${result.stdout}`);
    });
    checked.add(role);
  }
  return join(ROOT, entry.file);
}
