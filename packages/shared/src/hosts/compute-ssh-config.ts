import type { HostKeyPolicy } from '../db/schema/hosts.ts';
import { isHostName } from './host-input.ts';
import { effectiveProxy } from './ssh-config/alias-state.ts';
import { ConfigIndex } from './ssh-config/config-index.ts';
import { evaluateAlias, type AliasOutcome } from './ssh-config/evaluate-alias.ts';
import { parseSshConfigInSlices } from './ssh-config/parse-config.ts';
import { runCooperatively, runToCompletion } from './ssh-config/run-cooperatively.ts';
import { asciiLower } from './ssh-config/tokenize.ts';
import { tooLarge, WorkMeter } from './ssh-config/work-meter.ts';

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
  /** The line of the directive, or of the Host line that names the alias. */
  line?: number;
}

/** A line that was imported with another meaning than ssh gives it. */
export interface SshConfigWarning {
  line: number;
  directive: string;
  /** The imported aliases it applies to. */
  aliases: string[];
  message: string;
}

export interface ComputedSshConfig {
  hosts: ComputedHost[];
  skipped: SkippedAlias[];
  warnings: SshConfigWarning[];
  /** Work done (pattern-matching and block-visiting steps), bounded by SSH_CONFIG_LIMITS.steps. */
  steps: number;
}

/**
 * Resolve every concrete `Host` alias of an OpenSSH client config the way `ssh -G -F <file>
 * <alias>` does (readconf.c and match.c are the specification; see `ssh-config/`), in time
 * linear in the text for real configs and bounded for any (limits in `SSH_CONFIG_LIMITS`, 413).
 *
 * LOUD: the text is untrusted (it comes from an HTTP body). Nothing in it is run or read: `Match
 * exec` is never executed, `Include` never followed, no DNS lookup is made. What depends on those
 * (or on the login name of whoever would run ssh) is reported, and an alias whose imported
 * settings it could change is skipped rather than imported half-right.
 *
 * A generator that yields between slices of work; use `computeSshConfig` (synchronous) or
 * `computeSshConfigCooperatively` (lets other requests run in between).
 */
export function* evaluateSshConfig(text: string): Generator<void, ComputedSshConfig> {
  const config = yield* parseSshConfigInSlices(text);
  const index = new ConfigIndex(config);
  const meter = new WorkMeter();
  const skipped: SkippedAlias[] = config.notes.map((n) => ({ alias: n.alias, reason: n.reason, line: n.line }));
  const aliases = config.aliases.filter(({ alias, line }) => {
    if (isHostName(alias)) return true;
    const comma = alias.includes(',') ? ' (a comma is part of the name: OpenSSH does not split Host patterns on commas; separate aliases with spaces)' : '';
    skipped.push({ alias, line, reason: `not usable as a host name (1-63 letters, digits, "_", "." or "-")${comma}` });
    return false;
  });
  // Every alias visits every shared block: refuse at once what cannot fit the budget.
  const visits = aliases.length * index.shared.length;
  if (visits > meter.limit) {
    throw tooLarge(`${aliases.length} aliases × ${index.shared.length} wildcard Host and Match blocks is over the limit of ${meter.limit} checks; import the file in parts`);
  }
  const hosts: ComputedHost[] = [];
  const weakened = new Map<number, SshConfigWarning>();
  for (const { alias, line } of aliases) {
    const outcome = yield* evaluateAlias(config, index, alias, meter);
    const result = 'skip' in outcome ? { reason: outcome.skip } : toComputedHost(alias, outcome);
    if ('reason' in result) {
      skipped.push({ alias, line, reason: result.reason });
      continue;
    }
    hosts.push(result);
    const strict = 'state' in outcome ? outcome.state.strict : undefined;
    if (strict && WEAK_POLICIES.has(asciiLower(strict.value))) {
      const w = weakened.get(strict.line) ?? { line: strict.line, directive: strict.text, aliases: [], message: WEAK_POLICY_MESSAGE(strict.text) };
      w.aliases.push(alias);
      weakened.set(strict.line, w);
    }
  }
  return { hosts, skipped, warnings: [...weakened.values()], steps: meter.steps };
}

export const computeSshConfig = (text: string): ComputedSshConfig => runToCompletion(evaluateSshConfig(text));
export const computeSshConfigCooperatively = (text: string): Promise<ComputedSshConfig> => runCooperatively(evaluateSshConfig(text));

const WEAK_POLICIES = new Set(['no', 'off', 'false']);
const WEAK_POLICY_MESSAGE = (directive: string) =>
  `"${directive}" turns host key checking off in ssh; vmo always checks host keys, so these hosts were imported with hostKeyPolicy "strict" (pin their keys with pinnedHostKeys, or set hostKeyPolicy "accept-new" to trust the first key seen)`;

const POLICIES: Record<string, HostKeyPolicy> = { 'accept-new': 'accept-new', yes: 'strict', true: 'strict', ask: 'strict', no: 'strict', off: 'strict', false: 'strict' };

function toComputedHost(alias: string, { state, host }: Extract<AliasOutcome, { state: unknown }>): ComputedHost | { reason: string } {
  const user = state.user?.value;
  if (!user) return { reason: 'no User applies to it (the worker would otherwise log in as its own local user); add User to the config or create the host with POST /v1/hosts' };
  if (user.includes('%')) return { reason: `User ${user} uses % tokens, which are not expanded` };
  const portText = state.port?.value ?? '22';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return { reason: `Port ${portText} is not a port number from 1 to 65535` };
  const proxy = effectiveProxy(state);
  if (proxy && 'command' in proxy) return { reason: `uses ProxyCommand ("${proxy.command.text}", line ${proxy.command.line}), which is not supported; use ProxyJump` };
  const policy = state.strict ? POLICIES[asciiLower(state.strict.value)] : 'strict';
  if (!policy) return { reason: `StrictHostKeyChecking ${state.strict!.value} is not a value ssh accepts` };
  return {
    alias,
    host,
    user,
    port,
    identityFile: state.identity?.value ?? null,
    proxyJump: proxy ? proxy.jump.value : null,
    hostKeyPolicy: policy,
  };
}
