import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { WorkspacePaths } from './sandbox.ts';
import { run } from './run.ts';

/**
 * Snapshots of a netns workspace: a tar.gz of its `workspace/` directory (the user's files, not the
 * agent's token or pidfile) at `<root>/../snapshots/<snapshot id>.tar.gz`. Taken and restored only
 * while the workspace is stopped (the provider checks), so no file changes while it is read.
 */
const SNAPSHOT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const snapshotDirOf = (root: string) => resolve(root, '..', 'snapshots');

export async function takeSnapshot(p: WorkspacePaths, root: string, snapshotId: string, signal?: AbortSignal): Promise<{ ref: { path: string }; sizeBytes: number }> {
  if (!SNAPSHOT_ID.test(snapshotId)) throw new Error(`netns: refusing snapshot id ${JSON.stringify(snapshotId)}`);
  const dir = snapshotDirOf(root);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${snapshotId}.tar.gz`);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await run('tar', ['-czf', tmp, '-C', p.data, '.'], { signal });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  return { ref: { path: file }, sizeBytes: (await stat(file)).size };
}

/**
 * The archive a ref names, when it is a snapshot file of one of the allowed roots and named for
 * this snapshot: a ref is stored data, and restore reads it and deleteSnapshot deletes it.
 */
export function snapshotFile(ref: Record<string, unknown>, snapshotId: string, roots: string[]): string {
  const path = typeof ref.path === 'string' ? resolve(ref.path) : '';
  if (!SNAPSHOT_ID.test(snapshotId) || basename(path) !== `${snapshotId}.tar.gz` || !roots.some((r) => dirname(path) === snapshotDirOf(r))) {
    throw new Error(`netns: snapshot ${snapshotId}'s archive is not where this worker keeps snapshots`);
  }
  return path;
}

/** Replaces the workspace's files with the archive's: extracted beside them, then swapped in. */
export async function restoreSnapshot(p: WorkspacePaths, file: string, signal?: AbortSignal): Promise<void> {
  await stat(file); // a clear ENOENT before anything is touched
  const incoming = `${p.data}.restore`;
  const old = `${p.data}.old`;
  await rm(incoming, { recursive: true, force: true });
  await rm(old, { recursive: true, force: true });
  await mkdir(incoming, { recursive: true, mode: 0o755 });
  try {
    // GNU tar drops leading `/` and refuses members with `..`: nothing lands outside `incoming`.
    await run('tar', ['-xzf', file, '-C', incoming], { signal });
    let moved = false;
    try {
      await rename(p.data, old);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await rename(incoming, p.data);
    } catch (err) {
      // LOUD: put the old files back rather than leave the workspace without any.
      if (moved) await rename(old, p.data);
      throw err;
    }
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(incoming, { recursive: true, force: true });
  }
}

/** LOUD: removes `<root>/<id>` only, after checking on the real paths that it is exactly that. */
export async function removeWorkspaceDir(root: string, dir: string, workspaceId: string): Promise<boolean> {
  let realRoot: string;
  let realDir: string;
  try {
    realRoot = await realpath(root);
    realDir = await realpath(dir);
  } catch {
    return false; // nothing there
  }
  if (realRoot === '/' || realDir !== join(realRoot, workspaceId) || dirname(realDir) !== realRoot) {
    throw new Error(`netns: refusing to remove ${realDir}: not ${join(realRoot, workspaceId)}`);
  }
  await rm(realDir, { recursive: true, force: true });
  return true;
}
