import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { edgesOf, edgesOfRunChildren, type JobChange, type RunChildrenChange } from './job-change.ts';
import { isAllowed, TRANSITIONS } from './transitions.ts';
import { JOB_STATUSES, TERMINAL_STATUSES } from '../../domain/job-status.ts';

const ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
const LIFECYCLE_SQL = 'packages/shared/src/jobs/lifecycle/sql/';

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => !p.includes('node_modules') && !p.includes('/test/') && !p.includes('/vendor/'));
}

/** Every write of `jobs.status` in the sources: raw SQL (`update jobs set … status =`) and drizzle (`.update(jobs).set({ status`). */
function statusWrites(): { file: string; text: string }[] {
  const found: { file: string; text: string }[] = [];
  const files = ['packages', 'services', 'apps'].flatMap((top) => readdirSync(join(ROOT, top)).flatMap((pkg) => sources(join(top, pkg))));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(ROOT, file);
    for (const m of text.matchAll(/update\s+"?jobs"?(?![\w"])(?:\s+\w+)?\s+set\b([\s\S]*?)(?:\bwhere\b|\breturning\b|`)/gi)) {
      if (/(^|[\s,.])status\s*=/i.test(m[1]!)) found.push({ file: rel, text: m[0].replace(/\s+/g, ' ').slice(0, 80) });
    }
    for (const m of text.matchAll(/\.update\(\s*jobs\s*\)\s*\.set\(\s*\{([\s\S]*?)\}\s*\)/g)) {
      if (/\bstatus\s*:/.test(m[1]!)) found.push({ file: rel, text: m[0].replace(/\s+/g, ' ').slice(0, 80) });
    }
  }
  return found;
}

describe('one writer of jobs.status', () => {
  it('every write of the status is a statement of the lifecycle module (jobs/lifecycle/sql)', () => {
    const writes = statusWrites();
    // The scan must see the lifecycle's own statements, or it is not looking in the right places.
    expect(new Set(writes.filter((w) => w.file.startsWith(LIFECYCLE_SQL)).map((w) => w.file)).size).toBe(7);
    expect(writes.filter((w) => !w.file.startsWith(LIFECYCLE_SQL)).map((w) => `${w.file}: ${w.text}`)).toEqual([]);
  });
});

describe('the transition table', () => {
  it('ends at the terminal statuses: nothing follows them', () => {
    for (const s of TERMINAL_STATUSES) expect(TRANSITIONS[s]).toEqual([]);
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...JOB_STATUSES].sort());
  });

  it('lets every non-terminal status reach a terminal one (no job can be stuck by the table)', () => {
    for (const s of ['queued', 'running'] as const) expect(TRANSITIONS[s].some((t) => (TERMINAL_STATUSES as readonly string[]).includes(t))).toBe(true);
  });

  it('allows every edge of every change the code can ask for', () => {
    const changes: JobChange[] = [
      { kind: 'start', workerId: 'w', checkedAgentId: null },
      { kind: 'stop_queued', reason: 'canceled' },
      { kind: 'stop_queued', reason: 'timed_out' },
      { kind: 'end', from: 'queued', status: 'failed' },
      ...(['succeeded', 'failed', 'canceled', 'timed_out', 'lost'] as const).map((status): JobChange => ({ kind: 'end', from: 'running', attempt: 1, status })),
      { kind: 'exit', attempt: 1, exit: { exitCode: 0, signal: null, truncated: false } },
      { kind: 'end_unaccepted', attempt: 1 },
      ...(['running', 'queued'] as const).map(
        (from): JobChange => ({ kind: 'retry', from, fence: 1, cancelReason: null, attempt: 1, outcome: { status: 'failed', exitCode: 1, signal: null, error: null, truncated: false }, delayMs: 0 }),
      ),
    ];
    for (const change of changes) {
      const { from, to } = edgesOf(change);
      for (const status of to) expect(isAllowed(from, status), `${change.kind}: ${from} → ${status}`).toBe(true);
    }
    const bulk: RunChildrenChange[] = [{ kind: 'skip_queued', error: { code: 'max_errors_exceeded', message: 'm' } }, { kind: 'cancel_queued' }];
    for (const change of bulk) {
      const { from, to } = edgesOfRunChildren(change);
      expect(isAllowed(from, to), `${change.kind}: ${from} → ${to}`).toBe(true);
    }
  });

  it('goes back from running to queued only by a retry (issue 14), and from no terminal status', () => {
    expect(isAllowed('running', 'queued')).toBe(true);
    for (const s of TERMINAL_STATUSES) expect(isAllowed(s, 'queued')).toBe(false);
  });
});
