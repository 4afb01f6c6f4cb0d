import SSHConfig, { LineType, type Directive, type Line, type Match } from 'ssh-config';
import { badRequest } from '../errors/app-error.ts';
import { isHostName } from './host-input.ts';
import type { HostKeyPolicy } from '../db/schema/hosts.ts';

/** One concrete `Host` alias resolved with OpenSSH's rules: what an import creates or updates. */
export interface ComputedHost {
  alias: string;
  host: string;
  user: string;
  port: number;
  identityFile: string | null;
  proxyJump: string | null;
  /** Only `accept-new` is carried over; anything else (including `no`) becomes `strict`. */
  hostKeyPolicy: HostKeyPolicy;
}

export interface SkippedAlias {
  /** The alias, or the directive (`Include …`, `Match …`) when the entry is about the file. */
  alias: string;
  reason: string;
}

/** Match criteria we can decide from the alias alone, as OpenSSH would. */
const EVALUABLE_CRITERIA = new Set(['all', 'host', 'originalhost', 'user']);

/**
 * Resolve every concrete `Host` alias of an OpenSSH client config with the `ssh-config` package
 * (first value wins; `Host *` and other patterns apply; `Match host/originalhost/user/all` blocks
 * are evaluated).
 *
 * LOUD: the text is untrusted (it comes from an HTTP body). `ssh-config` would run `Match exec`
 * commands in a shell and `CanonicalizeHostName` lookups through `nslookup`: both are removed
 * before computing and `matchExec: false` is passed as well. `Include` is never followed: the
 * server does not read files that a request names.
 *
 * Not guessed: a `Match` block that depends on something only the operator's machine knows
 * (`exec`, `localuser`, `localnetwork`, `canonical`, `final`, `tagged`) is reported, and an alias
 * whose settings would change if that block applied is skipped rather than imported half-right.
 */
export function computeSshConfig(text: string): { hosts: ComputedHost[]; skipped: SkippedAlias[] } {
  let parsed: SSHConfig;
  try {
    parsed = SSHConfig.parse(text);
  } catch (err) {
    throw badRequest('invalid_ssh_config', `config: not a valid OpenSSH client config: ${(err as Error).message}`, { field: 'config' });
  }
  const skipped: SkippedAlias[] = [];
  const { base, undecidable } = stripUnsafe(parsed, skipped);
  const hosts: ComputedHost[] = [];
  for (const alias of concreteAliases(parsed, skipped)) {
    const values = resolve(base, alias);
    const dependsOn = undecidable.find((block) => !sameImportedValues(values, resolve(withBlockForced(base, block), alias)));
    if (dependsOn) {
      skipped.push({ alias, reason: `its settings depend on "${describe(dependsOn)}", which cannot be evaluated on the server; not imported rather than guessed` });
      continue;
    }
    const result = toComputedHost(alias, values);
    if ('reason' in result) skipped.push(result);
    else hosts.push(result);
  }
  return { hosts, skipped };
}

type Values = Record<string, string | string[]>;

const resolve = (config: SSHConfig, alias: string): Values => config.compute(alias, { ignoreCase: true, matchExec: false });

const IMPORTED_KEYS = ['hostname', 'user', 'port', 'identityfile', 'proxyjump', 'proxycommand', 'stricthostkeychecking'];
const sameImportedValues = (a: Values, b: Values) => IMPORTED_KEYS.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));

const isDirective = (line: Line): line is Directive => line.type === LineType.DIRECTIVE;
const isMatch = (line: Line): line is Match => isDirective(line) && /^match$/i.test(line.param) && 'criteria' in line;
const valueText = (d: Directive) => (typeof d.value === 'string' ? d.value : d.value.map((v) => v.val).join(' '));
const describe = (d: Directive) => `${d.param} ${valueText(d)}`;

/**
 * Copy of the config without Include and Canonicalize* lines. Undecidable Match blocks stay in
 * place but switched off (a criterion ssh-config does not know never matches); they are also
 * returned so each can be switched on alone to see whether it would change an alias.
 */
function stripUnsafe(parsed: SSHConfig, skipped: SkippedAlias[]): { base: SSHConfig; undecidable: Match[] } {
  const undecidable: Match[] = [];
  const keep = (line: Line): boolean => {
    if (!isDirective(line)) return true;
    if (/^include$/i.test(line.param)) {
      skipped.push({ alias: describe(line), reason: "Include is not followed: the server does not read files named in an uploaded config; import the included file's text too (same request or another)" });
      return false;
    }
    return !/^canonical(izehostname|domains|izemaxdots|izefallbacklocal|izepermittedcnames)$/i.test(line.param);
  };
  const base = new SSHConfig();
  for (const line of parsed) {
    if (!keep(line)) continue;
    if (!isDirective(line) || !('config' in line)) {
      base.push(line);
      continue;
    }
    const config = new SSHConfig();
    for (const inner of line.config) if (keep(inner)) config.push(inner);
    if (isMatch(line) && Object.keys(line.criteria).some((c) => !EVALUABLE_CRITERIA.has(c.toLowerCase()))) {
      const off: Match = { ...line, config, criteria: { [NEVER]: [] } };
      originalCriteria.set(off, line.criteria);
      undecidable.push(off);
      base.push(off);
      skipped.push({ alias: describe(line), reason: "Match criteria other than host, originalhost, user and all depend on the operator's machine and are not evaluated; aliases it could change are skipped" });
    } else {
      base.push({ ...line, config });
    }
  }
  return { base, undecidable };
}

/** A criterion ssh-config does not recognise: its match() treats it as false. */
const NEVER = 'vmo-never';

/**
 * The config with one undecidable Match block switched on, as if its undecidable criteria held;
 * its decidable ones (`host`, `user` …) still apply, so `Match host X exec …` only concerns X.
 */
function withBlockForced(base: SSHConfig, block: Match): SSHConfig {
  const original = originalCriteria.get(block)!;
  const decidable = Object.fromEntries(Object.entries(original).filter(([k]) => EVALUABLE_CRITERIA.has(k.toLowerCase())));
  const criteria = Object.keys(decidable).length > 0 ? decidable : { all: [] };
  const forced = new SSHConfig();
  for (const line of base) forced.push(line === block ? { ...block, criteria } : line);
  return forced;
}

const originalCriteria = new WeakMap<Match, Match['criteria']>();

function concreteAliases(parsed: SSHConfig, skipped: SkippedAlias[]): string[] {
  const seen = new Set<string>();
  for (const line of parsed) {
    if (!isDirective(line) || !/^host$/i.test(line.param)) continue;
    const patterns = typeof line.value === 'string' ? line.value.split(/\s+/) : line.value.map((v) => v.val);
    for (const p of patterns) {
      if (!p || /[*?!]/.test(p) || seen.has(p)) continue;
      seen.add(p);
    }
  }
  return [...seen].filter((alias) => {
    if (isHostName(alias)) return true;
    skipped.push({ alias, reason: 'not usable as a host name (1-63 letters, digits, "_", "." or "-")' });
    return false;
  });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function toComputedHost(alias: string, v: Values): ComputedHost | SkippedAlias {
  const hostName = first(v.hostname) ?? alias;
  if (/%[^h%]/.test(hostName)) return { alias, reason: `HostName ${hostName} uses % tokens other than %h and %%` };
  const host = hostName.replace(/%(h|%)/g, (_, t: string) => (t === 'h' ? alias : '%'));
  const user = first(v.user);
  if (!user) return { alias, reason: 'no User applies to it (the worker would otherwise log in as its own local user); add User to the config or create the host with POST /v1/hosts' };
  if (user.includes('%')) return { alias, reason: `User ${user} uses % tokens, which are not expanded` };
  const portText = first(v.port) ?? '22';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return { alias, reason: `Port ${portText} is not a port number` };
  const proxyJump = first(v.proxyjump);
  if (!proxyJump && first(v.proxycommand) && first(v.proxycommand) !== 'none') {
    return { alias, reason: 'uses ProxyCommand, which is not supported; use ProxyJump' };
  }
  const identity = first(v.identityfile);
  const policy = first(v.stricthostkeychecking)?.toLowerCase();
  return {
    alias,
    host,
    user,
    port,
    identityFile: identity && identity.toLowerCase() !== 'none' ? identity : null,
    proxyJump: proxyJump && proxyJump.toLowerCase() !== 'none' ? proxyJump : null,
    hostKeyPolicy: policy === 'accept-new' ? 'accept-new' : 'strict',
  };
}
