import type { VmoClient } from '@vmo/client';

/** POST /v1/runs' body as the client takes it. */
export type RunBody = Parameters<VmoClient['runs']['submit']>[0];

/** The New run form's fields, as typed (text everywhere: the API validates and names what is wrong). */
export interface NewRunFields {
  command: string;
  selector: string;
  /** Names or ids, separated by commas, spaces or lines. */
  agents: string;
  hosts: string;
  includeAgents: boolean;
  includeHosts: boolean;
  /** `NAME=value`, one a line; blank lines and `#` comments ignored. */
  env: string;
  timeoutSeconds: string;
  maxConcurrency: string;
  maxErrors: string;
  canaryCount: string;
  canaryBakeSeconds: string;
  offline: 'wait' | 'skip' | 'fail';
}

export const EMPTY_FIELDS: NewRunFields = {
  command: '',
  selector: '',
  agents: '',
  hosts: '',
  includeAgents: true,
  includeHosts: true,
  env: '',
  timeoutSeconds: '',
  maxConcurrency: '',
  maxErrors: '',
  canaryCount: '',
  canaryBakeSeconds: '',
  offline: 'wait',
};

/** What the form cannot send as it is: the field (its input's id) and why. */
export class FieldError extends Error {
  constructor(
    readonly field: keyof NewRunFields,
    message: string,
  ) {
    super(message);
    this.name = 'FieldError';
  }
}

const list = (text: string) => text.split(/[\s,]+/).filter((s) => s !== '');

/** `3` is a count, `"50%"` a share; anything else is sent as written, and the API's 400 names the field. */
function countOrPercent(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^\d+$/.test(t) ? Number(t) : t;
}

function seconds(text: string, field: keyof NewRunFields, what: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) throw new FieldError(field, `${what} must be a number of seconds`);
  return Math.round(n * 1000);
}

/** The kinds a selector looks at: absent for both (the API's default). */
export function kindsOf(fields: Pick<NewRunFields, 'includeAgents' | 'includeHosts'>): ('agent' | 'ssh')[] | undefined {
  if (fields.includeAgents && fields.includeHosts) return undefined;
  if (!fields.includeAgents && !fields.includeHosts) throw new FieldError('includeAgents', 'Choose agents, SSH hosts or both for the selector to look at');
  return fields.includeAgents ? ['agent'] : ['ssh'];
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new FieldError('env', `Env line ${i + 1} is not NAME=value`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  });
  return env;
}

/** The form as POST /v1/runs' body; throws FieldError for what cannot be sent. Empty fields are left out (the API's defaults). */
export function buildRunBody(f: NewRunFields): RunBody {
  const selector = f.selector.trim();
  const agents = list(f.agents);
  const hosts = list(f.hosts);
  const kinds = selector === '' ? undefined : kindsOf(f);
  const env = parseEnv(f.env);
  const timeoutMs = seconds(f.timeoutSeconds, 'timeoutSeconds', 'The timeout');
  const maxConcurrency = countOrPercent(f.maxConcurrency);
  const maxErrors = countOrPercent(f.maxErrors);
  const canaryCount = countOrPercent(f.canaryCount);
  const bakeMs = seconds(f.canaryBakeSeconds, 'canaryBakeSeconds', 'The canary bake');
  if (canaryCount === undefined && bakeMs !== undefined) throw new FieldError('canaryCount', 'A canary bake needs a number of canaries');

  const strategy: Record<string, unknown> = {};
  if (maxConcurrency !== undefined) strategy.maxConcurrency = maxConcurrency;
  if (maxErrors !== undefined) strategy.maxErrors = maxErrors;
  if (canaryCount !== undefined) strategy.canary = { count: canaryCount, bakeMs: bakeMs ?? 0 };

  return {
    command: f.command,
    targets: {
      ...(selector !== '' ? { selector } : {}),
      ...(kinds ? { kinds } : {}),
      ...(agents.length > 0 ? { agents } : {}),
      ...(hosts.length > 0 ? { hosts } : {}),
    },
    ...(Object.keys(env).length > 0 ? { env } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(Object.keys(strategy).length > 0 ? { strategy: strategy as RunBody['strategy'] } : {}),
    ...(f.offline !== 'wait' ? { offline: f.offline } : {}),
  } as RunBody;
}
