import { isIP } from 'node:net';
import { applySetting, effectiveProxy, type AliasState } from './alias-state.ts';
import type { Block, Criterion, ParsedConfig } from './config-model.ts';
import type { ConfigIndex } from './config-index.ts';
import { matchHostname, matchPattern, matchPatternList } from './match-pattern.ts';
import { asciiLower } from './tokenize.ts';
import type { WorkMeter } from './work-meter.ts';

export type AliasOutcome = { state: AliasState; host: string } | { skip: string };

/** The import stores host and user in columns of 255 characters; longer values are refused early. */
const MAX_VALUE = 255;

/**
 * Evaluate one alias as `ssh -G <alias>` would (ssh.c `main` around `process_config_files`):
 * a first pass over the blocks that apply; then HostName is %h-expanded and lowercased; then, if
 * a `Match final` exists or CanonicalizeHostname is on, a second pass in which `canonical` and
 * `final` hold and `Match host` sees the resolved name.
 *
 * What the server cannot know (a `Match exec` result, the local login name before any User is set,
 * a DNS lookup for CanonicalizeHostname) is never guessed: if such a block would set a setting the
 * import uses that is still unset at that point, the alias is skipped with the reason.
 *
 * A generator: it yields when `meter` says a slice of work is done, so a caller can let the event
 * loop run between slices.
 */
export function* evaluateAlias(config: ParsedConfig, index: ConfigIndex, alias: string, meter: WorkMeter): Generator<void, AliasOutcome> {
  const state: AliasState = {};
  const order = index.blocksFor(alias);
  const first = yield* walk(config, order, alias, state, false, meter);
  if (first) return { skip: first };

  const expanded = expandHostName(state.hostname?.value ?? '%h', alias);
  if (expanded === null) return { skip: `${describe(state.hostname!)} uses % tokens other than %h and %%, which ssh would refuse` };
  const host = isIP(expanded) ? expanded : asciiLower(expanded);

  let finalPass = config.wantsFinalPass;
  if (state.canonicalize) {
    const mode = asciiLower(state.canonicalize.value);
    if (!['yes', 'true', 'no', 'false', 'always'].includes(mode)) return { skip: `${describe(state.canonicalize)} is not a value ssh accepts (yes, no or always)` };
    if (mode !== 'no' && mode !== 'false') {
      // resolve_canonicalize(): addresses are kept; `yes` leaves names reached through a proxy alone.
      if (!isIP(host) && (mode === 'always' || effectiveProxy(state) === null)) {
        return { skip: `${describe(state.canonicalize)} applies to it: ssh would look "${host}" up in DNS (CanonicalDomains) on the operator's machine, which the server does not do; not imported rather than guessed` };
      }
      finalPass = true;
    }
  }
  if (finalPass) {
    state.hostnameFixed = true;
    const second = yield* walk(config, order, alias, state, true, meter, host);
    if (second) return { skip: second };
  }
  return { state, host };
}

/** One pass over the blocks; returns why the alias cannot be evaluated, or undefined. */
function* walk(config: ParsedConfig, order: readonly number[], alias: string, state: AliasState, finalPass: boolean, meter: WorkMeter, resolvedHost?: string): Generator<void, string | undefined> {
  let matchHost = resolvedHost ?? alias;
  for (const i of order) {
    meter.charge(1);
    if (meter.sliceDone()) yield;
    const block = config.blocks[i]!;
    const applies = blockApplies(block, alias, matchHost, state, finalPass, meter);
    if (applies === false) continue;
    if (applies !== true) {
      if (block.settings.some((s) => applySetting(state, s, false))) return dependsOn(block, applies);
      continue;
    }
    for (const s of block.settings) {
      meter.charge(1);
      if (!applySetting(state, s, true) || s.key === 'identityfile') continue;
      if (s.key === 'hostname') {
        const expanded = expandHostName(s.value, alias);
        if (expanded === null) return `${describe(s)} uses % tokens other than %h and %%, which ssh would refuse`;
        if (expanded.length > MAX_VALUE) return `${describe(s)} is longer than ${MAX_VALUE} characters`;
        matchHost = expanded;
      } else if (s.key === 'user' && s.value.length > MAX_VALUE) return `${describe(s)} is longer than ${MAX_VALUE} characters`;
    }
  }
  return undefined;
}

/** true, false, or the criterion that cannot be decided here (the block may or may not apply). */
function blockApplies(block: Block, alias: string, matchHost: string, state: AliasState, finalPass: boolean, meter: WorkMeter): boolean | Criterion {
  if (block.host) {
    // readconf.c `Host`: active if some pattern matches, unless a negated one does.
    let active = false;
    for (const p of block.host) {
      if (!matchPattern(alias, p.pattern, { meter })) continue;
      if (p.negated) return false;
      active = true;
    }
    return active;
  }
  if (!block.match) return true;
  // readconf.c `match_cfg_line`: every criterion must hold (`!` inverts one).
  let result = true;
  let unknown: Criterion | undefined;
  const check = (holds: boolean, negated: boolean) => {
    if (holds === negated) result = false;
  };
  for (const c of block.match) {
    switch (c.kind) {
      case 'all':
        if (result) result = !c.negated;
        break;
      case 'canonical':
      case 'final':
        check(finalPass, c.negated);
        break;
      case 'host':
        check(matchHostname(matchHost, c.arg, meter) === 1, c.negated);
        break;
      case 'originalhost':
        check(matchHostname(alias, c.arg, meter) === 1, c.negated);
        break;
      case 'user':
        // Before any User is set, ssh matches the login name of whoever runs it.
        if (state.user) check(matchPatternList(state.user.value, c.arg, false, meter) === 1, c.negated);
        else unknown ??= c;
        break;
      case 'local':
        unknown ??= c;
    }
  }
  return result ? (unknown ?? true) : false;
}

function dependsOn(block: Block, c: Criterion): string {
  const why =
    c.kind === 'user'
      ? 'no User is set before it, so ssh would match the login name of whoever runs ssh, which the server cannot know'
      : 'it cannot be evaluated on the server (exec commands are never run)';
  return `its settings depend on "${block.text}" (line ${block.line}): ${why}; not imported rather than guessed`;
}

/** misc.c `percent_expand(hostname, "h", alias)`: only %h and %% are known; anything else is fatal in ssh. */
export function expandHostName(value: string, alias: string): string | null {
  if (!value.includes('%')) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '%') {
      out += value[i];
      continue;
    }
    const t = value[++i];
    if (t === '%') out += '%';
    else if (t === 'h') out += alias;
    else return null;
  }
  return out;
}

const describe = (s: { text: string; line: number }) => `"${s.text}" (line ${s.line})`;
