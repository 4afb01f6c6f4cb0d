import { Option, type Command } from 'commander';
import type { VmoClient } from '@vmo/client';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { labelText, outputFormat, printList, withListOutput, type Column, type ListOptions } from '../output/list.ts';

type TargetRow = Awaited<ReturnType<VmoClient['targets']['preview']>>['items'][number];

const TARGET_COLUMNS: Column<TargetRow>[] = [
  { header: 'KIND', value: (t) => t.kind },
  { header: 'NAME', value: (t) => t.name },
  { header: 'STATUS', value: (t) => (t.online === null ? (t.kind === 'ssh' ? '-' : 'unknown') : t.online ? 'online' : 'offline'), colour: (t, c) => (t.online === true ? c.green : t.online === false ? c.dim : undefined) },
  { header: 'LABELS', value: (t) => labelText(t.labels) || '-' },
  { header: 'ID', value: (t) => t.id, wide: true },
];

export function registerTargets(program: Command): void {
  withListOutput(
    program
      .command('targets')
      .summary('preview what a label selector matches')
      .description(
        'The agents and SSH hosts a label selector matches now (what `vmo run --selector` would run on), sorted by kind then name; nothing runs. Selectors use the Kubernetes syntax: env=prod, role!=db, tier in (web,api), !canary, gpu. No selector: every target.',
      )
      .argument('[selector]', 'a label selector; empty or absent: all targets')
      .addOption(new Option('--kinds <kinds>', 'only agent, only ssh, or agent,ssh (default: both)'))
      .option('--limit <n>', 'show at most n (the total is still counted; default 1000)'),
  )
    .addHelpText('after', "\nExamples:\n  vmo targets 'env=prod,role in (web,api)'\n  vmo targets env=staging --kinds agent -o wide\n  vmo targets '!canary' --json | jq .total")
    .action(async (selector: string | undefined, opts: ListOptions & { kinds?: string; limit?: string }, command: Command) => {
      const format = outputFormat(opts);
      let kinds: ('agent' | 'ssh')[] | undefined;
      if (opts.kinds !== undefined) {
        kinds = opts.kinds.split(',').map((k) => k.trim()) as ('agent' | 'ssh')[];
        if (kinds.some((k) => k !== 'agent' && k !== 'ssh')) throw new CliError('--kinds: must be agent, ssh or agent,ssh', ExitCode.usage, 'usage');
      }
      let limit: number | undefined;
      if (opts.limit !== undefined) {
        limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit: must be a whole number ≥ 1', ExitCode.usage, 'usage');
      }
      const { client } = await connect(command);
      const preview = await client.targets.preview({ ...(selector ? { selector } : {}), ...(kinds ? { kinds } : {}), ...(limit ? { limit } : {}) });
      // JSON: the API's answer as it is ({items, total}): the total is part of what a script wants.
      printList(preview.items, TARGET_COLUMNS, format, { jsonValue: preview, empty: `no target matches ${selector ? `"${selector}"` : '(there are no agents or hosts)'}` });
      if (format !== 'json' && preview.total > preview.items.length) process.stderr.write(`(${preview.items.length} of ${preview.total} shown; --limit shows more)\n`);
    });
}
