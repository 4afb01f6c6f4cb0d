import type { Setting } from './config-model.ts';
import { asciiLower } from './tokenize.ts';

/**
 * What ssh has obtained so far for one alias, for the settings the import uses. OpenSSH keeps the
 * first value it obtains for each keyword (readconf.c: `if (*activep && *charptr == NULL)`).
 */
export interface AliasState {
  hostname?: Setting;
  user?: Setting;
  port?: Setting;
  /** The first IdentityFile other than `none` (ssh lists them all; `none` names no file). */
  identity?: Setting;
  strict?: Setting;
  canonicalize?: Setting;
  proxyCommand?: Setting;
  jumpHost?: Setting;
  /** In ssh's final pass HostName is already fixed to the resolved name. */
  hostnameFixed?: boolean;
}

const isRealJump = (s: AliasState) => s.jumpHost !== undefined && !s.jumpHost.none;

/**
 * Apply one setting of an active block, or with `commit = false` only tell whether it would
 * change anything. ProxyJump and ProxyCommand share one slot, as ssh 9 does: the first one set
 * wins, `ProxyCommand none` blocks a later ProxyJump, and `ProxyJump none` blocks a later
 * ProxyJump but not a later ProxyCommand (checked against `ssh -G`).
 */
export function applySetting(state: AliasState, s: Setting, commit: boolean): boolean {
  const field = SINGLE_FIELDS[s.key];
  if (field !== undefined) {
    if (state[field] !== undefined || (field === 'hostname' && state.hostnameFixed)) return false;
    if (commit) state[field] = s;
    return true;
  }
  switch (s.key) {
    case 'identityfile':
      if (state.identity !== undefined || asciiLower(s.value) === 'none') return false;
      if (commit) state.identity = s;
      return true;
    case 'proxycommand':
      if (state.proxyCommand !== undefined || isRealJump(state)) return false;
      if (commit) state.proxyCommand = s;
      return true;
    case 'proxyjump':
      if (state.proxyCommand !== undefined || state.jumpHost !== undefined) return false;
      if (commit) state.jumpHost = s;
      return true;
    default:
      return false;
  }
}

const SINGLE_FIELDS: Partial<Record<Setting['key'], 'hostname' | 'user' | 'port' | 'strict' | 'canonicalize'>> = {
  hostname: 'hostname',
  user: 'user',
  port: 'port',
  stricthostkeychecking: 'strict',
  canonicalizehostname: 'canonicalize',
};

/** The proxy ssh would use: a ProxyJump hop list, a ProxyCommand, or none. */
export function effectiveProxy(state: AliasState): { jump: Setting } | { command: Setting } | null {
  if (isRealJump(state)) return { jump: state.jumpHost! };
  if (state.proxyCommand !== undefined && !state.proxyCommand.none) return { command: state.proxyCommand };
  return null;
}
