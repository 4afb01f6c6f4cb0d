import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanUpOnSignals } from './interrupt-cleanup.ts';
import { formatNotes, formatTable, writeReport, type BenchReport } from './report.ts';
import type { BenchRow, Scenario, ScenarioContext } from './scenario.ts';
import { agentsScenario } from './scenarios/agents.ts';
import { agents100kScenario } from './scenarios/agents-100k.ts';
import { fanOutScenario } from './scenarios/fan-out.ts';
import { fleetScenario } from './scenarios/fleet.ts';
import { latencyScenario } from './scenarios/latency.ts';
import { outputScenario } from './scenarios/output.ts';
import { scaleOutScenario } from './scenarios/scale-out.ts';
import { sshScenario } from './scenarios/ssh.ts';
import { submitScenario } from './scenarios/submit.ts';
import { throughputScenario } from './scenarios/throughput.ts';

const SCENARIOS: Scenario[] = [submitScenario, throughputScenario, latencyScenario, outputScenario, fanOutScenario, agentsScenario, scaleOutScenario, sshScenario, fleetScenario, agents100kScenario];
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

const USAGE = `Usage: npm run bench -- [--quick] [--only a,b] [--agents N] [--profile DIR] [--out DIR]

  --quick        every scenario, briefly (a smoke check; well under a minute of load)
  --only LIST    scenarios to run: ${SCENARIOS.map((s) => s.name + (s.optIn ? ' (only when named here)' : '')).join(', ')}
  --agents N     simulated agents for agents-100k (default 100000; also VMO_BENCH_AGENTS;
                 VMO_BENCH_APIS=k holds them over k API processes instead of 4)
  --profile DIR  run the API, worker and agent processes with --cpu-prof, profiles under DIR/<scenario>/
  --out DIR      where the JSON report goes (default bench/results/)
`;

/**
 * The scenarios a run takes: those named in `only` (in the table's order), else every scenario
 * but the opt-in ones (agents-100k wants a quiet machine and minutes of its own).
 */
export function chooseScenarios(only: string[] | undefined, all: readonly Scenario[] = SCENARIOS): Scenario[] {
  const unknown = (only ?? []).filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; choose from ${all.map((s) => s.name).join(', ')}`);
  return only?.length ? all.filter((s) => only.includes(s.name)) : all.filter((s) => !s.optIn);
}

/** Runs the scenarios one after the other; a failing scenario is reported and the run goes on. */
export async function runBench(opts: { quick: boolean; only?: string[]; agents?: number; profileDir?: string; outDir?: string; log?: (m: string) => void }): Promise<{ report: BenchReport; path: string }> {
  const log = opts.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const chosen = chooseScenarios(opts.only);
  const tmpDir = mkdtempSync(join(tmpdir(), 'vmo-bench-'));
  const ctx: ScenarioContext = { quick: opts.quick, profileDir: opts.profileDir, tmpDir, log, ...(opts.agents !== undefined ? { agents: opts.agents } : {}) };
  const started = Date.now();
  const rows: BenchRow[] = [];
  const failures: BenchReport['failures'] = [];
  try {
    for (const scenario of chosen) {
      const t0 = Date.now();
      log(`▶ ${scenario.name}`);
      try {
        const got = await scenario.run(ctx);
        rows.push(...got);
        for (const r of got) log(`  ${r.scenario}: ${r.measured} ${r.unit} vs ${r.baseline} ${r.unit} (ratio ${r.ratio ?? '—'})`);
      } catch (err) {
        failures.push({ scenario: scenario.name, error: (err as Error).stack ?? String(err) });
        log(`  ✗ ${scenario.name} failed: ${(err as Error).message}`);
      }
      log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  const report: BenchReport = {
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 100) / 10,
    quick: opts.quick,
    machine: { cpus: cpus().length, node: process.version, loadavg: loadavg().map((l) => Math.round(l * 100) / 100) },
    rows,
    failures,
  };
  return { report, path: writeReport(opts.outDir ?? RESULTS_DIR, report) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, agents: { type: 'string' }, profile: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(USAGE);
  const agentsArg = values.agents ?? process.env.VMO_BENCH_AGENTS;
  const agents = agentsArg === undefined || agentsArg === '' ? undefined : Number(agentsArg.replace(/[_,]/g, ''));
  if (agents !== undefined && !(Number.isInteger(agents) && agents > 0)) throw new Error(`--agents wants a positive whole number, not ${agentsArg}`);
  cleanUpOnSignals();
  const { report, path } = await runBench({
    quick: values.quick!,
    only: values.only?.split(',').map((s) => s.trim()).filter(Boolean),
    ...(agents !== undefined ? { agents } : {}),
    profileDir: values.profile ? resolve(values.profile) : undefined,
    outDir: values.out ? resolve(values.out) : undefined,
  });
  process.stdout.write(`\n${formatTable(report.rows)}\n\n${formatNotes(report.rows)}\n\n`);
  process.stdout.write(`${report.quick ? 'quick run' : 'run'} took ${report.durationS} s on ${report.machine.cpus} cores (load ${report.machine.loadavg.join(' ')}); JSON: ${path}\n`);
  for (const f of report.failures) process.stdout.write(`\nFAILED ${f.scenario}: ${f.error}\n`);
  process.exitCode = report.failures.length ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exit(1);
  });
}
