import type { RunSummary } from '@vmo/client';
import type { Colours } from '../output/colour.ts';

const SAMPLE_CHARS = 60;

/**
 * The run summary's groups, largest first: one line per (status, exit code) with its targets, and
 * under it one line per distinct output with how many targets wrote it and its first line:
 *
 *   run_… failed: 2 of 3 succeeded
 *     succeeded  exit 0   2  web-1, web-2
 *         2× "hi" (3 B)
 *     failed     exit 3   1  web-3
 */
export function formatSummary(summary: RunSummary, c: Colours): string {
  const succeeded = summary.groups.filter((g) => g.status === 'succeeded').reduce((n, g) => n + g.count, 0);
  const status = summary.status === 'succeeded' ? c.green(summary.status) : summary.status === 'failed' ? c.red(summary.status) : c.yellow(summary.status);
  const lines = [`${c.bold(summary.runId)} ${status}: ${succeeded} of ${summary.total} succeeded`];
  for (const group of summary.groups) {
    const word = group.status.padEnd(10);
    const statusText = group.status === 'succeeded' ? c.green(word) : c.red(word);
    const exit = group.exitCode === null ? ''.padEnd(8) : `exit ${group.exitCode}`.padEnd(8);
    const shown = group.outputs.reduce((n, o) => n + o.targets.length, 0);
    const targets = group.outputs.flatMap((o) => o.targets);
    // Every child of this group: `vmo jobs ls` filtered to it (`vmo runs show` prints this summary itself).
    const more = group.count > shown ? `, … (${group.count - shown} more: vmo jobs ls --run ${summary.runId} --status ${group.status} --all)` : '';
    lines.push(`  ${statusText} ${exit} ${String(group.count).padStart(3)}  ${targets.join(', ')}${more}`);
    for (const output of group.outputs) {
      if (output.hash === null) continue;
      lines.push(c.dim(`      ${output.count}× ${sample(output.sample)} (${output.bytes} B)`));
    }
    if (group.otherOutputs.groups > 0) lines.push(c.dim(`      … ${group.otherOutputs.groups} other outputs (${group.otherOutputs.count} targets)`));
  }
  if (summary.otherGroups.groups > 0) lines.push(c.dim(`  … ${summary.otherGroups.groups} other results (${summary.otherGroups.count} targets)`));
  return `${lines.join('\n')}\n`;
}

/** The first line of an output sample, quoted as JSON (control characters escaped), cut to a width. */
function sample(text: string | null): string {
  if (text === null || text === '') return '(no output)';
  const first = text.split('\n')[0]!;
  const cut = first.length > SAMPLE_CHARS ? `${first.slice(0, SAMPLE_CHARS)}…` : first;
  return JSON.stringify(cut);
}
