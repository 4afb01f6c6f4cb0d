/** The parsed form of an OpenSSH client config: only what the import evaluates. */

/** Keywords whose values the import uses (the others are parsed for syntax and ignored). */
export type SettingKey = 'hostname' | 'user' | 'port' | 'identityfile' | 'proxyjump' | 'proxycommand' | 'stricthostkeychecking' | 'canonicalizehostname';

export interface Setting {
  key: SettingKey;
  /** The argument as ssh reads it (quotes removed); for ProxyJump/ProxyCommand the rest of the line. */
  value: string;
  line: number;
  /** `Keyword value` as written, for messages. */
  text: string;
  /** ProxyJump/ProxyCommand: the raw value is `none` (any case), which ssh treats as "no proxy". */
  none?: boolean;
}

export interface HostPattern {
  pattern: string;
  negated: boolean;
}

/** One criterion of a `Match` line (readconf.c `match_cfg_line`). */
export type Criterion =
  | { kind: 'all' | 'canonical' | 'final'; negated: boolean }
  | { kind: 'host' | 'originalhost' | 'user'; negated: boolean; arg: string }
  /** exec, localuser, …: depends on the machine that runs ssh, never evaluated (exec never run). */
  | { kind: 'local'; negated: boolean; name: string; arg: string };

export interface Block {
  /** 0 for the lines before the first Host or Match line. */
  line: number;
  /** `Host …` / `Match …` as written (quotes removed), for messages. */
  text: string;
  /** Host patterns (a Host block), criteria (a Match block), or neither (the lines before both). */
  host?: HostPattern[];
  match?: Criterion[];
  settings: Setting[];
}

export interface FileNote {
  /** The directive as written (`Include ~/.ssh/conf.d/*`, `Match exec …`). */
  alias: string;
  line: number;
  reason: string;
}

export interface ParsedConfig {
  /** In file order; `blocks[0]` holds the lines before any Host or Match line. */
  blocks: Block[];
  /** Concrete `Host` tokens (no `*`, `?` or leading `!`), first occurrence, in file order. */
  aliases: { alias: string; line: number }[];
  /** Lines the import does not follow or evaluate (Include, Match exec, CanonicalizeHostname …). */
  notes: FileNote[];
  /** Some `Match` line has a `final` criterion: ssh then reads the config a second time. */
  wantsFinalPass: boolean;
}
