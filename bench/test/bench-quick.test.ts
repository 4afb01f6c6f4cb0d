import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../src/report.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIOS = ['submit', 'throughput', 'latency', 'output', 'fan-out', 'agents', 'scale-out', 'ssh', 'fleet'];
/** Rows each scenario reports; the table's scenario column starts with these. */
const ROW_PREFIXES: Record<string, string[]> = {
  submit: ['submit (POST', 'submit p99 latency, 1 client', 'submit p99 latency, 8 clients', 'submit p99 latency, 64 clients'],
  throughput: ['throughput'],
  latency: ['latency agent p50', 'latency agent p99', 'latency local p50', 'latency local p99'],
  output: ['output'],
  'fan-out': ['fan-out'],
  agents: ['agents'],
  'scale-out': ['scale-out'],
  ssh: ['ssh'],
  fleet: ['fleet 100: run', 'fleet 100: every child dispatched', 'fleet 100: API RSS', 'fleet 100: worker RSS'],
};

/**
 * Smoke check of the harness: `npm run bench -- --quick` as a child process, as a user runs it.
 * It asserts that every scenario completes and reports numbers, and that the JSON is written;
 * never a timing (timings belong in the bench, not in assertions).
 */
describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'vmo-bench-test-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs every scenario and reports a numeric row for each, as a table and as JSON', { timeout: 210_000 }, async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('npm', ['run', 'bench', '--silent', '--', '--quick', '--out', out], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 205_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    const files = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(files, `no JSON report written; stderr:\n${stderr.slice(-4000)}`).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as BenchReport;
    expect(report.failures, `scenarios failed:\n${report.failures.map((f) => `${f.scenario}: ${f.error}`).join('\n')}`).toEqual([]);
    expect(code, stderr.slice(-4000)).toBe(0);
    expect(report.quick).toBe(true);

    for (const scenario of SCENARIOS) {
      for (const prefix of ROW_PREFIXES[scenario]!) {
        const rows = report.rows.filter((r) => r.scenario.startsWith(prefix));
        expect(rows.length, `no row for ${prefix}`).toBeGreaterThan(0);
        for (const r of rows) {
          expect(Number.isFinite(r.measured), `${r.scenario}: measured ${r.measured}`).toBe(true);
          expect(Number.isFinite(r.baseline), `${r.scenario}: baseline ${r.baseline}`).toBe(true);
          expect(r.goal.length).toBeGreaterThan(0);
        }
      }
    }
    // The product processes' RSS peaks are reported.
    expect(Object.keys(report.rows.find((r) => r.scenario.startsWith('throughput'))!.rss)).toEqual(expect.arrayContaining(['api', 'worker', 'agent']));
    // The same table went to stdout.
    for (const r of report.rows) expect(stdout).toContain(r.scenario);
  });
});
