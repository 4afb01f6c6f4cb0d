/**
 * Build the dashboard when dist/ is missing or older than its sources, so `npm start`, `npm run api`
 * and the tests always serve the pages as they are in the tree. Quiet when nothing changed.
 * Run: `tsx packages/dashboard/ensure-built.ts` (the root's prestart does).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDirLock } from '../../scripts/dir-lock.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const built = join(here, 'dist', 'index.html');

/** The newest modification time under these paths (the pages, and the client and contracts they bundle). */
function newest(paths: string[]): number {
  let latest = 0;
  const visit = (path: string): void => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'node_modules' && entry !== 'dist') visit(join(path, entry));
    } else latest = Math.max(latest, stat.mtimeMs);
  };
  for (const path of paths) visit(path);
  return latest;
}

export function dashboardIsStale(): boolean {
  if (!existsSync(built)) return true;
  const sources = newest([
    join(here, 'src'),
    join(here, 'index.html'),
    join(here, 'vite.config.ts'),
    join(here, 'package.json'),
    // All of them, not only shared/src/api: the pages bundle domain/ (statuses, scopes) and
    // whatever the contracts import, and a change there must rebuild.
    join(here, '..', 'client', 'src'),
    join(here, '..', 'shared', 'src'),
  ]);
  return sources > statSync(built).mtimeMs;
}

const LOCK = join(here, 'dist.lock');

/**
 * Build when stale; throws with vite's output when the build fails. Several processes may ask at
 * once (test runs side by side, `npm start` beside them): one builds, under a lock directory
 * (scripts/dir-lock.mjs), into a folder of its own that then replaces dist/ whole, so dist/ is
 * never half written; the others wait, then find it built (or still stale, the build having
 * failed: build).
 */
export function ensureDashboardBuilt(): void {
  if (!dashboardIsStale()) return;
  withDirLock(
    LOCK,
    () => {
      if (dashboardIsStale()) buildDashboard();
    },
    { pollMs: 200 },
  );
}

function buildDashboard(): void {
  process.stderr.write('building the dashboard (packages/dashboard)…\n');
  const vite = join(here, 'node_modules', '.bin', 'vite');
  const bin = existsSync(vite) ? vite : join(here, '..', '..', 'node_modules', '.bin', 'vite');
  const out = join(here, `dist.build-${process.pid}`);
  const result = spawnSync(bin, ['build', '--logLevel', 'warn', '--outDir', out], { cwd: here, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`the dashboard's build failed (exit ${result.status ?? result.signal}); run \`npm run build -w @vmo/dashboard\` to see why`);
  }
  const old = join(here, `dist.old-${process.pid}`);
  if (existsSync(join(here, 'dist'))) renameSync(join(here, 'dist'), old);
  renameSync(out, join(here, 'dist'));
  rmSync(old, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureDashboardBuilt();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
