import { randomBytes } from 'node:crypto';
import type { ControlPlane } from '../../control-plane/control-plane.ts';
import type { DiscoverySource, MakeTarget } from '../../domain/make-target.ts';
import { AppError } from '../../errors/app-error.ts';
import { validationError } from '../../errors/zod-error.ts';
import { JobInput } from '../../jobs/job-input.ts';
import { readOutput } from '../../jobs/read-output.ts';
import { submitJob } from '../../jobs/submit-job.ts';
import { makeTargetsOf } from '../make-database/make-targets.ts';
import { parseMakeDatabase } from '../make-database/parse-make-database.ts';
import { projectJobTarget, machineName, type ProjectRow } from '../project-row.ts';
import type { ProjectActor } from '../project-service.ts';
import { discoveryScript } from './discovery-script.ts';
import { readDiscoveryOutput, type ScriptError } from './discovery-output.ts';
import { parseTargetList } from './list-command-output.ts';
import { waitForDiscoveryJob } from './wait-for-discovery-job.ts';

/** A discovery's stdout read back at most (make's database of a large project is a few MiB). */
export const MAX_DISCOVERY_OUTPUT_BYTES = 32 * 1024 * 1024;
const JOB_TIMEOUT_MARGIN_MS = 10_000;

export type DiscoveryCause = ScriptError | 'make_failed' | 'list_command_failed' | 'agent_offline' | 'timeout' | 'job_failed' | 'output_incomplete';

export interface ProjectTargets {
  alias: string;
  targets: MakeTarget[];
  defaultGoal: string | null;
  source: DiscoverySource;
  discoveredAt: string;
  /** The job that found them (its output is make's database: GET /v1/jobs/{id}/logs). */
  jobId: string;
  /** Answered from the project's cache, without a job. */
  cached: boolean;
}

/** The cached targets, or undefined when none were found yet. */
export function cachedTargets(row: ProjectRow): ProjectTargets | undefined {
  if (row.targets === null || row.discovered_at === null) return undefined;
  return { alias: row.alias, targets: row.targets, defaultGoal: row.default_goal, source: row.discovery_source ?? 'make', discoveredAt: new Date(row.discovered_at).toISOString(), jobId: row.discovery_job_id ?? '', cached: true };
}

export interface DiscoverOptions {
  timeoutMs: number;
  /** The ssh host assertMayRunJob judged (a non-admin's): the job runs there, the name is not resolved again. */
  hostId?: string | undefined;
  /** Told the job's id once it is submitted (the API records it in the audit trail). */
  onSubmitted?: (jobId: string) => Promise<void> | void;
}

/**
 * Discover a project's targets by a job on its machine, as the caller (it is their job: audited,
 * listed, its output kept), wait for it within `timeoutMs`, read what it printed, and cache the
 * targets on the project. The caller's `run` on the machine is judged before (projectToActOn).
 * Every failure is a 422 `discovery_failed` naming its cause and the job.
 */
export async function discoverTargets(cp: ControlPlane, row: ProjectRow, actor: ProjectActor, opts: DiscoverOptions): Promise<ProjectTargets> {
  const marker = `vmo-discovery-${randomBytes(12).toString('hex')}`;
  // safeParse: a project row holds what the contract took (a 4 KiB dir, a list command); a job it cannot make is a 400, never a 500.
  const parsedInput = JobInput.safeParse({
    command: discoveryScript({ dir: row.dir, marker, listCommand: row.list_command }),
    target: projectJobTarget(row),
    // The API cancels it at the bound; its own timeout, a little later, ends it should that API node die meanwhile.
    timeoutMs: opts.timeoutMs + JOB_TIMEOUT_MARGIN_MS,
    labels: { 'vmo.project': row.alias, 'vmo.action': 'discover' },
  });
  if (!parsedInput.success) throw validationError(parsedInput.error);
  const input = parsedInput.data;
  const job = await submitJob(cp, input, actor.name, undefined, actor.userId, opts.hostId);
  await opts.onSubmitted?.(job.id);
  const where = `${row.dir} on ${machineName(row)}`;
  const fail = (cause: DiscoveryCause, why: string): AppError =>
    new AppError(422, 'discovery_failed', `the targets of project ${JSON.stringify(row.alias)} could not be discovered: ${why} (job ${job.id}: GET /v1/jobs/${job.id}/logs)`, { cause, jobId: job.id });

  const end = await waitForDiscoveryJob(cp, job.id, row.agent_id, opts.timeoutMs);
  if (end.kind === 'agent_offline') throw fail('agent_offline', `agent ${machineName(row)} is offline; the job was canceled`);
  if (end.kind === 'timeout') throw fail('timeout', `no answer within ${opts.timeoutMs} ms; the job was canceled`);

  const stdout = await readStdout(cp, job.id);
  const out = readDiscoveryOutput(stdout, marker);
  if (out.error === 'dir_missing') throw fail('dir_missing', `no directory ${where}`);
  if (out.error === 'no_makefile') throw fail('no_makefile', `no GNUmakefile, makefile or Makefile in ${where}`);
  if (out.error === 'no_make') throw fail('no_make', `make is not installed on ${machineName(row)}`);
  if (out.error === 'not_gnu_make') throw fail('not_gnu_make', `make on ${machineName(row)} is not GNU make`);

  let found: { targets: MakeTarget[]; defaultGoal: string | null; source: DiscoverySource };
  if (row.list_command !== null) {
    if (!out.list) throw ended(fail, end, 'the list command printed nothing vmo could read');
    if (out.list.exitCode !== 0) throw fail('list_command_failed', `the list command exited with ${out.list.exitCode} in ${where}`);
    found = { targets: parseTargetList(out.list.text), defaultGoal: null, source: 'list_command' };
  } else {
    const fatal = out.makeStderr?.split('\n').find((l) => l.includes('*** '));
    if (fatal) throw fail('make_failed', `make could not read the makefiles: ${fatal.trim().slice(0, 500)}`);
    if (out.database === undefined || !parseMakeDatabase(out.database).complete) throw ended(fail, end, "make's database was not printed whole");
    const { targets, defaultGoal } = makeTargetsOf(out.database, out.sources);
    found = { targets, defaultGoal, source: 'make' };
  }

  // Stored only if the project still is what was discovered (a PATCH meanwhile forgets it).
  const [stored] = await cp.database.sql<{ discovered_at: Date | string }[]>`
    update projects set targets = ${JSON.stringify(found.targets)}::jsonb, default_goal = ${found.defaultGoal}, discovery_source = ${found.source},
           discovered_at = now(), discovery_job_id = ${job.id}
    where id = ${row.id} and dir = ${row.dir} and list_command is not distinct from ${row.list_command}
    returning discovered_at`;
  return { alias: row.alias, ...found, discoveredAt: new Date(stored?.discovered_at ?? Date.now()).toISOString(), jobId: job.id, cached: false };
}

/** Output missing: say how the job ended, when that is the reason (killed, lost, an SSH failure). */
function ended(fail: (cause: DiscoveryCause, why: string) => AppError, end: { kind: 'ended'; status: string; exitCode: number | null; error: { code: string; message: string } | null }, otherwise: string): AppError {
  if (end.status !== 'succeeded' && end.status !== 'failed') return fail('job_failed', `the job ended ${end.status}${end.error ? ` (${end.error.code}: ${end.error.message})` : ''}`);
  if (end.error) return fail('job_failed', `the job failed: ${end.error.code}: ${end.error.message}`);
  return fail('output_incomplete', `${otherwise} (the job ended ${end.status}, exit code ${end.exitCode})`);
}

async function readStdout(cp: ControlPlane, jobId: string): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const page of readOutput(cp.database.sql, jobId, { afterSeq: -1, stream: 1 })) {
    for (const chunk of page) {
      parts.push(chunk.data);
      size += chunk.data.length;
    }
    if (size > MAX_DISCOVERY_OUTPUT_BYTES) break; // what is cut shows as a section without its end
  }
  return Buffer.concat(parts).subarray(0, MAX_DISCOVERY_OUTPUT_BYTES).toString('utf8');
}
