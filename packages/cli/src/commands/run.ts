import type { Command } from 'commander';
import { connect } from '../connect.ts';
import { CliError } from '../errors.ts';
import { EXIT_CODE_HELP, ExitCode } from '../exit-codes.ts';
import { runFleet, type RunRequest } from '../fleet/run-fleet.ts';
import { COMMAND_LINE_HELP, commandLine } from '../job/command-line.ts';
import { parseDuration } from '../job/duration.ts';
import { parseAt, parsePriority } from '../job/run-at.ts';
import { parseRetainDays, parseRetryFlags, RETRY_HELP } from '../job/retry-flags.ts';
import { runJob, type JobTarget } from '../job/run-job.ts';

interface RunOptions {
  on?: string;
  env: string[];
  cwd?: string;
  timeout?: string;
  detach?: boolean;
  json?: boolean;
  selector?: string;
  maxConcurrency?: string;
  maxErrors?: string;
  canary?: string;
  canaryBake?: string;
  offline?: 'wait' | 'skip' | 'fail';
  stream?: boolean;
  at?: string;
  priority?: string;
  retry?: string;
  retryOn?: string;
  retryBackoff?: string;
  retryJitter?: string;
  retainDays?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRun(program: Command): void {
  program
    .command('run')
    .summary('run a command on a machine (or a fleet) and stream its output')
    .description(
      'Run a command on one target and stream its output: stdout to stdout and stderr to stderr, byte for byte, live; vmo exits with the command\'s exit code. Ctrl-C cancels the job and waits for its end (exit 130); a second Ctrl-C leaves it running and detaches (exit 75).\n\nWith --selector, run it on every agent and SSH host the label selector matches (a fleet run): a progress bar on a terminal, a summary of the results at the end (on stdout; on stderr with --stream), exit 0 only if every target succeeded, else 1.',
    )
    .argument('<command...>', 'the command (after --)')
    .option('--on <target>', 'where: local, agent:NAME or host:NAME (an SSH host: name or name@environment)', 'local')
    .option('-e, --env <K=V>', 'an environment variable for the command (repeat for several)', collect, [])
    .option('--cwd <dir>', 'the working directory on the target')
    .option('--timeout <duration>', 'stop the command after this long (90s, 10m, 1h30m); the server default is 1h')
    .option('--at <time>', 'start no earlier than this: 2030-01-31T22:00:00Z, 2030-01-31 22:00 (local time) or +10m; until then the job waits queued, holding no worker')
    .option('--priority <1-10>', 'when workers or the target are busy, higher starts first (default 5)')
    .option('--retry <n>', 'run it again up to n times when an attempt fails (see Retries below)')
    .option('--retry-on <what,...>', 'with --retry: which ends are retried: nonzero, exit codes, lost, offline, timeout')
    .option('--retry-backoff <type:delay[:max]>', 'with --retry: exponential:1s:5m or fixed:30s (default exponential:1s)')
    .option('--retry-jitter <0-1>', 'with --retry: each delay drawn from [d × (1 - jitter), d]')
    .option('--retain-days <days>', "keep the job and its output this many days once ended (1-3650), instead of the server's retention")
    .option('-d, --detach', 'print the job (or run) id and return at once')
    .option('--json', 'with --detach: print the job (or run) as the API answered, one JSON document')
    .option('-l, --selector <selector>', 'a fleet run on every agent and host this label selector matches (env=prod,role in (web,api))')
    .option('--max-concurrency <n|n%>', 'fleet: at most this many targets at once (a count or a share: 10%)')
    .option('--max-errors <n|n%>', 'fleet: stop starting targets once more than this many failed')
    .option('--canary <n|n%>', 'fleet: run on the first n targets alone, the rest only once they all succeeded')
    .option('--canary-bake <duration>', 'fleet: wait this long after the canaries succeeded before the rest')
    .option('--offline <wait|skip|fail>', 'fleet: what a target whose agent is offline does')
    .option('--stream', "fleet: print every target's output, each line prefixed by its name ([web-1] …)")
    .addHelpText(
      'after',
      `
${COMMAND_LINE_HELP}

${RETRY_HELP}

Examples:
  vmo run -- uname -a                                   on the control plane's local target
  vmo run --on agent:web-1 -- sh -c 'echo hi; exit 3'   prints hi, exits 3
  vmo run --on host:db-1@prod --timeout 10m -e PGUSER=app -- ./backup.sh
  vmo run --detach --on agent:web-1 -- ./long-job       prints the job id (vmo logs -f ID)
  vmo run --detach --at '2030-01-31 02:00' -- ./nightly   waits queued until then (vmo cancel ID to drop it)
  vmo run --priority 9 --on host:db-1@prod -- ./hotfix  ahead of the jobs of priority 1-8 waiting there
  vmo run --retry 3 --retry-backoff exponential:2s:1m --retry-jitter 0.2 -- ./flaky-test
  vmo run --on agent:web-1 --retry 5 --retry-on 75,lost -- ./sync    exit 75 or a lost agent only
  vmo run --retain-days 365 -- ./audit-report           kept a year, whatever VMO_RETENTION_DAYS says
  vmo run --detach --json -l env=prod -- ./deploy | jq -r .id
  vmo run --selector env=prod --max-concurrency 10% --max-errors 1 --canary 1 -- uptime
  vmo run -l 'role in (web)' --stream -- systemctl is-active nginx

${EXIT_CODE_HELP}
  1        fleet: at least one target did not succeed`,
    )
    .action(async (argv: string[], opts: RunOptions, command: Command) => {
      // Every flag is checked before vmo looks for a server: bad usage is 2 even with none configured.
      const command_ = commandLine(argv);
      const env = parseEnv(opts.env);
      const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout, '--timeout');
      const runAt = opts.at === undefined ? undefined : parseAt(opts.at);
      const priority = opts.priority === undefined ? undefined : parsePriority(opts.priority);
      const retry = parseRetryFlags(opts);
      const retainDays = opts.retainDays === undefined ? undefined : parseRetainDays(opts.retainDays);
      const common = {
        command: command_,
        env,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
        ...(timeoutMs ? { timeoutMs } : {}),
        ...(runAt !== undefined ? { runAt } : {}),
        ...(priority !== undefined ? { priority } : {}),
        ...(retry !== undefined ? { retry } : {}),
        ...(retainDays !== undefined ? { retainDays } : {}),
      };
      const detach = opts.detach === true;
      if (opts.json && !detach) throw new CliError('--json is for --detach (without it, stdout is the command\'s output)', ExitCode.usage, 'usage');
      if (opts.selector !== undefined) {
        if (command.getOptionValueSource('on') === 'cli') throw new CliError('--on and --selector: give one (--on is one target, --selector a fleet)', ExitCode.usage, 'usage');
        const request: RunRequest = { ...common, targets: { selector: opts.selector }, strategy: strategy(opts), ...(opts.offline ? { offline: parseOffline(opts.offline) } : {}) };
        const { client } = await connect(command);
        process.exitCode = await runFleet(client, request, { detach, stream: opts.stream === true, json: opts.json === true });
        return;
      }
      for (const fleetOnly of ['maxConcurrency', 'maxErrors', 'canary', 'canaryBake', 'offline', 'stream'] as const) {
        if (opts[fleetOnly] !== undefined) throw new CliError(`--${fleetOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for a fleet run: give --selector too`, ExitCode.usage, 'usage');
      }
      const target = parseTarget(opts.on ?? 'local');
      const { client } = await connect(command);
      process.exitCode = await runJob(client, { ...common, target }, { detach, json: opts.json === true });
    });
}

/** `local`, `agent:NAME`, `host:NAME` → the job's target. */
export function parseTarget(on: string): JobTarget {
  if (on === 'local') return { type: 'local' };
  const colon = on.indexOf(':');
  const kind = on.slice(0, colon);
  const name = on.slice(colon + 1);
  if (colon > 0 && name !== '') {
    if (kind === 'agent') return { type: 'agent', agent: name };
    if (kind === 'host' || kind === 'ssh') return { type: 'ssh', host: name };
  }
  throw new CliError(`--on: "${on}" is not a target: give local, agent:NAME or host:NAME`, ExitCode.usage, 'usage');
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError("--env: each must be NAME=VALUE (the value is not shown here)", ExitCode.usage, "usage");
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

function countOrPercent(value: string, option: string): number | `${number}%` {
  if (/^\d+$/.test(value)) return Number(value);
  if (/^\d+%$/.test(value)) return value as `${number}%`;
  throw new CliError(`${option}: "${value}" must be a count (3) or a percentage (10%)`, ExitCode.usage, 'usage');
}

function strategy(opts: RunOptions): RunRequest['strategy'] {
  const s: RunRequest['strategy'] = {};
  if (opts.maxConcurrency !== undefined) s.maxConcurrency = countOrPercent(opts.maxConcurrency, '--max-concurrency');
  if (opts.maxErrors !== undefined) s.maxErrors = countOrPercent(opts.maxErrors, '--max-errors');
  if (opts.canary !== undefined) {
    s.canary = { count: countOrPercent(opts.canary, '--canary') };
    if (opts.canaryBake !== undefined) s.canary.bakeMs = parseDuration(opts.canaryBake, '--canary-bake');
  } else if (opts.canaryBake !== undefined) {
    throw new CliError('--canary-bake needs --canary', ExitCode.usage, 'usage');
  }
  return s;
}

function parseOffline(value: string): 'wait' | 'skip' | 'fail' {
  if (value === 'wait' || value === 'skip' || value === 'fail') return value;
  throw new CliError(`--offline: "${value}" must be wait, skip or fail`, ExitCode.usage, 'usage');
}
