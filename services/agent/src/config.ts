import { parseArgs } from 'node:util';
import { readSecretFiles, scrubSecrets, SecretFileError } from '@vmo/shared/config';
import { resolveRunAs, RunAsError, type RunAsUser } from '@vmo/shared/process';
import { AGENT_NAME_PATTERN, AGENT_NAME_RULE, labelsProblem } from '@vmo/shared/domain';
import { MAX_CHUNK_BYTES } from '@vmo/shared/protocol';
import { LOG_LEVELS, type LogLevel } from './logger.ts';
import { AGENT_TOKEN_PATTERN } from './token-source.ts';

/**
 * The agent's configuration: environment variables, each overridable by a flag. Parsed once
 * at start; a bad value stops the agent with one line naming the variable (or the flag).
 */
export interface AgentConfig {
  servers: string[];
  /** The agent token given as such (--token, --token-file, VMO_AGENT_TOKEN[_FILE]); absent with --state-dir. */
  token?: string;
  /** --token-file: read again at each connection, so a rotated token installed there is picked up. */
  tokenFile?: string;
  /** --state-dir: the agent keeps the token it got by enrolment in DIR/agent.token. */
  stateDir?: string;
  /** --enrol / --enrol-file: exchanged for the agent's token when DIR/agent.token does not exist yet. */
  enrolToken?: string;
  /** --name: the name to enrol under; the hostname when absent. */
  name?: string;
  bufferBytes: number;
  drainMs: number;
  labels: Record<string, string>;
  logLevel: LogLevel;
  /** Jobs run as this user instead of the agent's (`--run-as`). */
  runAs?: RunAsUser;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const USAGE = `Usage: vmo-agent --server URL --token-file FILE [options]
       vmo-agent --server URL --state-dir DIR [--enrol-file FILE] [--name N] [options]

Dials out to the vmo control plane over WebSocket and runs the jobs it is sent.

  --server URL         control-plane URL, http(s)://host:port (repeat, or a comma list,
                       to fail over)                                     env VMO_SERVER
  --token-file FILE    file holding this agent's token (vmo_agt_…), e.g.
                       /etc/vmo-agent/token, mode 0600; read again at each
                       connection (install a rotated token there)        env VMO_AGENT_TOKEN_FILE
  --token T            the token itself; visible to every user in \`ps\`:
                       prefer --token-file                               env VMO_AGENT_TOKEN

 Enrolment (one image for a fleet), instead of --token-file:
  --state-dir DIR      where the agent keeps its own token (DIR/agent.token,
                       0600; DIR is created 0700)                        env VMO_AGENT_STATE_DIR
  --enrol-file FILE    file holding an enrolment token (vmo_enr_…): on first
                       start, exchanged for this agent's token; ignored once
                       DIR/agent.token exists                            env VMO_AGENT_ENROL_TOKEN_FILE
  --enrol T            the enrolment token itself (visible in \`ps\`)     env VMO_AGENT_ENROL_TOKEN
  --name N             the name to enrol under (default: the hostname)   env VMO_AGENT_NAME
  --run-as USER        run jobs as this user (needs root, or
                       CAP_SETUID, CAP_SETGID and CAP_KILL)              env VMO_RUN_AS
  --labels k=v,k2=v2   labels reported to the server                     env VMO_AGENT_LABELS
  --buffer-bytes N     unacknowledged output held before commands block
                       (default 8 MiB)                                   env VMO_AGENT_BUFFER_BYTES
  --drain-ms N         on SIGTERM, how long running jobs may finish
                       (default 30000)                                   env VMO_AGENT_DRAIN_MS
  --log-level L        fatal|error|warn|info|debug|trace|silent          env VMO_LOG_LEVEL
  -h, --help           show this help
`;

/**
 * The variables, checked by hand in this order (the first problem is the one reported): the
 * bundled agent carries no zod (issue 16). Each check returns the value or throws VarProblem with
 * the message; the rules are those the server applies (labels: labels-check.ts; names:
 * agent-name.ts) and the messages those the zod schema this replaced gave.
 */
class VarProblem {
  constructor(
    readonly name: string,
    readonly message: string,
  ) {}
}

const commaList = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

const SERVER_PROTOCOLS = ['http:', 'https:', 'ws:', 'wss:'];
function isServerUrl(v: string): boolean {
  try {
    return SERVER_PROTOCOLS.includes(new URL(v).protocol);
  } catch {
    return false;
  }
}

const labelPair = /^([^=\s]{1,63})=(.{0,255})$/;
const ENROL_TOKEN_PATTERN = /^vmo_enr_[A-Za-z0-9_\-.~+/]+=*$/;

/** intVar's rule (@vmo/shared/config): Number() of the text, a whole number within [min, max], `def` when unset. */
function intValue(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new VarProblem(name, 'must be a whole number');
  if (n < min) throw new VarProblem(name, `must be ≥ ${min}`);
  if (n > max) throw new VarProblem(name, `must be ≤ ${max}`);
  return n;
}

function oneOf<T extends string>(name: string, raw: string | undefined, options: readonly T[], def: T): T {
  if (raw === undefined) return def;
  if (!(options as readonly string[]).includes(raw)) throw new VarProblem(name, `must be one of ${options.join(', ')}`);
  return raw as T;
}

function matching(name: string, raw: string | undefined, pattern: RegExp, message: string): string | undefined {
  if (raw !== undefined && !pattern.test(raw)) throw new VarProblem(name, message);
  return raw;
}

interface AgentEnv {
  VMO_SERVER: string[];
  VMO_AGENT_TOKEN?: string;
  VMO_AGENT_STATE_DIR?: string;
  VMO_AGENT_ENROL_TOKEN?: string;
  VMO_AGENT_NAME?: string;
  VMO_AGENT_LABELS: Record<string, string>;
  VMO_AGENT_BUFFER_BYTES: number;
  VMO_AGENT_DRAIN_MS: number;
  VMO_LOG_LEVEL: LogLevel;
  VMO_LOG_FORMAT: 'json' | 'pretty';
  VMO_RUN_AS?: RunAsUser;
}

function checkAgentEnv(env: Record<string, string | undefined>): AgentEnv {
  const rawServer = env.VMO_SERVER;
  if (rawServer === undefined) throw new VarProblem('VMO_SERVER', 'is required (the control-plane URL)');
  const servers = commaList(rawServer);
  if (!servers.every(isServerUrl)) throw new VarProblem('VMO_SERVER', 'must be a URL starting with http:// or https://');
  if (servers.length === 0) throw new VarProblem('VMO_SERVER', 'needs at least one URL');
  const token = matching('VMO_AGENT_TOKEN', env.VMO_AGENT_TOKEN, AGENT_TOKEN_PATTERN, 'must be an agent token (vmo_agt_…)');
  const stateDir = matching('VMO_AGENT_STATE_DIR', env.VMO_AGENT_STATE_DIR, /^./s, 'must be a directory path');
  const enrolToken = matching('VMO_AGENT_ENROL_TOKEN', env.VMO_AGENT_ENROL_TOKEN, ENROL_TOKEN_PATTERN, 'must be an enrolment token (vmo_enr_…, from POST /v1/enrolment-tokens)');
  const pairs = commaList(env.VMO_AGENT_LABELS ?? '');
  if (!pairs.every((p) => labelPair.test(p))) throw new VarProblem('VMO_AGENT_LABELS', 'must be k=v pairs separated by commas (key ≤ 63, value ≤ 255 characters)');
  const labels = Object.fromEntries(pairs.map((p) => labelPair.exec(p)!.slice(1, 3) as [string, string]));
  // The server refuses a hello whose labels break the registration rules (1008, then a reconnect
  // loop): refuse them here, at start, with a line naming --labels.
  const labelProblem = labelsProblem(labels);
  if (labelProblem) throw new VarProblem('VMO_AGENT_LABELS', labelProblem.key === undefined ? labelProblem.message : `${labelProblem.key}: ${labelProblem.message}`);
  // At least two chunks: below that, one chunk would pause every job at once, forever.
  const bufferBytes = intValue('VMO_AGENT_BUFFER_BYTES', env.VMO_AGENT_BUFFER_BYTES, 8 * 1024 * 1024, 2 * MAX_CHUNK_BYTES, 1024 * 1024 * 1024);
  const drainMs = intValue('VMO_AGENT_DRAIN_MS', env.VMO_AGENT_DRAIN_MS, 30_000, 0, 24 * 3600_000);
  const logLevel = oneOf('VMO_LOG_LEVEL', env.VMO_LOG_LEVEL, LOG_LEVELS, 'info');
  /** `json` (one object per line, log-line/log-line.ts) or `pretty` (readable, for development); the logger reads it, this refuses a typo at start. */
  const logFormat = oneOf('VMO_LOG_FORMAT', env.VMO_LOG_FORMAT, ['json', 'pretty'] as const, 'json');
  // runAsVar's rule (@vmo/shared/config): empty is unset; otherwise the user must resolve.
  let runAs: RunAsUser | undefined;
  if (env.VMO_RUN_AS) {
    try {
      runAs = resolveRunAs(env.VMO_RUN_AS);
    } catch (err) {
      if (!(err instanceof RunAsError)) throw err;
      throw new VarProblem('VMO_RUN_AS', err.message);
    }
  }
  return {
    VMO_SERVER: servers,
    ...(token !== undefined && { VMO_AGENT_TOKEN: token }),
    ...(stateDir !== undefined && { VMO_AGENT_STATE_DIR: stateDir }),
    ...(enrolToken !== undefined && { VMO_AGENT_ENROL_TOKEN: enrolToken }),
    ...(env.VMO_AGENT_NAME !== undefined && { VMO_AGENT_NAME: env.VMO_AGENT_NAME }),
    VMO_AGENT_LABELS: labels,
    VMO_AGENT_BUFFER_BYTES: bufferBytes,
    VMO_AGENT_DRAIN_MS: drainMs,
    VMO_LOG_LEVEL: logLevel,
    VMO_LOG_FORMAT: logFormat,
    ...(runAs && { VMO_RUN_AS: runAs }),
  };
}

/** Read from `<NAME>_FILE` too, never echoed, and taken out of the environment once read. */
const SECRET_VARS = ['VMO_AGENT_TOKEN', 'VMO_AGENT_ENROL_TOKEN'];

/** Flag → the variable it overrides, so an error names what the user actually typed. */
const FLAG_VARS = {
  server: 'VMO_SERVER',
  token: 'VMO_AGENT_TOKEN',
  'token-file': 'VMO_AGENT_TOKEN_FILE',
  'state-dir': 'VMO_AGENT_STATE_DIR',
  enrol: 'VMO_AGENT_ENROL_TOKEN',
  'enrol-file': 'VMO_AGENT_ENROL_TOKEN_FILE',
  name: 'VMO_AGENT_NAME',
  'run-as': 'VMO_RUN_AS',
  labels: 'VMO_AGENT_LABELS',
  'buffer-bytes': 'VMO_AGENT_BUFFER_BYTES',
  'drain-ms': 'VMO_AGENT_DRAIN_MS',
  'log-level': 'VMO_LOG_LEVEL',
} as const;

/**
 * Returns the config, or `'help'`; throws ConfigError with one readable line. Given the real
 * `process.env`, it deletes the token variables from it once read: job commands and anything
 * else this process starts never inherit them.
 */
export function loadAgentConfig(argv: string[], env: NodeJS.ProcessEnv, warn: (line: string) => void = (line) => process.stderr.write(`vmo-agent: ${line}\n`)): AgentConfig | 'help' {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string', multiple: true },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        'state-dir': { type: 'string' },
        enrol: { type: 'string' },
        'enrol-file': { type: 'string' },
        name: { type: 'string' },
        'run-as': { type: 'string' },
        labels: { type: 'string' },
        'buffer-bytes': { type: 'string' },
        'drain-ms': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) return 'help';

  const input: Record<string, string | undefined> = {};
  for (const name of Object.values(FLAG_VARS)) input[name] = env[name];
  const fromFlag = new Map<string, string>();
  for (const [flag, name] of Object.entries(FLAG_VARS)) {
    const value = values[flag];
    if (value === undefined) continue;
    input[name] = Array.isArray(value) ? value.join(',') : String(value);
    fromFlag.set(name, `--${flag}`);
  }
  // A flag replaces the setting whichever form the environment gave it in.
  if (values.token !== undefined && values['token-file'] !== undefined) throw new ConfigError('invalid configuration: --token and --token-file are both given; use --token-file');
  if (values.token !== undefined) delete input.VMO_AGENT_TOKEN_FILE;
  if (values['token-file'] !== undefined) delete input.VMO_AGENT_TOKEN;
  if (values.enrol !== undefined && values['enrol-file'] !== undefined) throw new ConfigError('invalid configuration: --enrol and --enrol-file are both given; use --enrol-file');
  if (values.enrol !== undefined) delete input.VMO_AGENT_ENROL_TOKEN_FILE;
  if (values['enrol-file'] !== undefined) delete input.VMO_AGENT_ENROL_TOKEN;
  // Where the token came from, to read it again at each connection (a rotated token is installed there).
  const tokenFile = input.VMO_AGENT_TOKEN_FILE;

  let resolved: Record<string, string | undefined>;
  try {
    resolved = readSecretFiles(input, SECRET_VARS);
  } catch (err) {
    if (!(err instanceof SecretFileError)) throw err;
    throw new ConfigError(`invalid configuration: ${flagged(err.message, fromFlag)}`);
  }
  let c: AgentEnv;
  try {
    c = checkAgentEnv(resolved);
  } catch (err) {
    if (!(err instanceof VarProblem)) throw err;
    const name = err.name;
    const where = fromFlag.get(name) ?? (input[`${name}_FILE`] !== undefined ? (fromFlag.get(`${name}_FILE`) ?? `${name}_FILE`) : name);
    // LOUD: never echo a token, not even a malformed one (it may be the real one with a typo).
    const value = resolved[name];
    const shown = SECRET_VARS.includes(name) || value === undefined || err.message.includes(value) ? '' : ` (got ${JSON.stringify(value)})`;
    throw new ConfigError(`invalid configuration: ${where}: ${err.message}${shown}`);
  }
  const name = (var_: string) => fromFlag.get(var_) ?? var_;
  // One place for the agent's credential: its own token, or a state dir it enrols into.
  if (c.VMO_AGENT_STATE_DIR !== undefined && c.VMO_AGENT_TOKEN !== undefined) {
    throw new ConfigError(
      `invalid configuration: ${name('VMO_AGENT_STATE_DIR')} keeps the agent's token in ${c.VMO_AGENT_STATE_DIR}/agent.token; give it or ${tokenFile !== undefined ? name('VMO_AGENT_TOKEN_FILE') : name('VMO_AGENT_TOKEN')}, not both`,
    );
  }
  if (c.VMO_AGENT_STATE_DIR === undefined) {
    if (c.VMO_AGENT_ENROL_TOKEN !== undefined) {
      const given = fromFlag.get('VMO_AGENT_ENROL_TOKEN') ?? fromFlag.get('VMO_AGENT_ENROL_TOKEN_FILE') ?? (input.VMO_AGENT_ENROL_TOKEN_FILE !== undefined ? 'VMO_AGENT_ENROL_TOKEN_FILE' : 'VMO_AGENT_ENROL_TOKEN');
      throw new ConfigError(`invalid configuration: ${given} needs --state-dir DIR (or VMO_AGENT_STATE_DIR), where the agent keeps the token it is given`);
    }
    if (c.VMO_AGENT_NAME !== undefined) throw new ConfigError(`invalid configuration: ${name('VMO_AGENT_NAME')} is the name to enrol under: it needs --state-dir DIR and --enrol-file FILE`);
    if (c.VMO_AGENT_TOKEN === undefined) throw new ConfigError('invalid configuration: VMO_AGENT_TOKEN: is required: give --token-file FILE (or VMO_AGENT_TOKEN_FILE), or --state-dir DIR with --enrol-file FILE to enrol');
  }
  if (c.VMO_AGENT_NAME !== undefined) {
    if (!AGENT_NAME_PATTERN.test(c.VMO_AGENT_NAME)) throw new ConfigError(`invalid configuration: ${name('VMO_AGENT_NAME')}: ${AGENT_NAME_RULE} (got ${JSON.stringify(c.VMO_AGENT_NAME)})`);
  }
  if (env === process.env) scrubSecrets(SECRET_VARS);
  // After the parse: a configuration that fails says only what is wrong.
  if (values.token !== undefined) warn('--token puts the token on the command line, where every user of this machine can read it (ps); use --token-file or VMO_AGENT_TOKEN_FILE');
  if (values.enrol !== undefined) warn('--enrol puts the enrolment token on the command line, where every user of this machine can read it (ps); use --enrol-file or VMO_AGENT_ENROL_TOKEN_FILE');
  return {
    servers: c.VMO_SERVER,
    ...(c.VMO_AGENT_TOKEN !== undefined && { token: c.VMO_AGENT_TOKEN }),
    ...(tokenFile !== undefined && { tokenFile }),
    ...(c.VMO_AGENT_STATE_DIR !== undefined && { stateDir: c.VMO_AGENT_STATE_DIR }),
    ...(c.VMO_AGENT_ENROL_TOKEN !== undefined && { enrolToken: c.VMO_AGENT_ENROL_TOKEN }),
    ...(c.VMO_AGENT_NAME !== undefined && { name: c.VMO_AGENT_NAME }),
    labels: c.VMO_AGENT_LABELS,
    bufferBytes: c.VMO_AGENT_BUFFER_BYTES,
    drainMs: c.VMO_AGENT_DRAIN_MS,
    logLevel: c.VMO_LOG_LEVEL,
    ...(c.VMO_RUN_AS && { runAs: c.VMO_RUN_AS }),
  };
}

/** `VMO_AGENT_TOKEN_FILE: …` as `--token-file: …` when the user typed the flag. */
function flagged(message: string, fromFlag: Map<string, string>): string {
  const name = message.slice(0, message.indexOf(':'));
  return fromFlag.has(name) ? `${fromFlag.get(name)}${message.slice(name.length)}` : message;
}
