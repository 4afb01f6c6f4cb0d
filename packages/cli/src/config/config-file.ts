import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from '../errors.ts';

/** One API to talk to: where it is and the token to talk with. */
export interface Context {
  server: string;
  token: string;
  /** Who the token was when `vmo login` checked it (shown by `vmo context ls`; never trusted for anything). */
  user?: string;
}

/** `~/.config/vmo/config.json`: named contexts and which one is current. */
export interface Config {
  current?: string;
  contexts: Record<string, Context>;
}

/** `$XDG_CONFIG_HOME/vmo/config.json`, else `~/.config/vmo/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'vmo', 'config.json');
}

/** The config file, or an empty config when there is none yet. A file that is not ours is an error naming it. */
export function readConfig(path = configPath()): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new CliError(`${path}: cannot read it (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${path}: not valid JSON; fix it or remove it and run \`vmo login\` again`);
  }
  const config = parsed as Partial<Config>;
  if (typeof config !== 'object' || config === null || typeof config.contexts !== 'object' || config.contexts === null) {
    throw new CliError(`${path}: has no "contexts" object; fix it or remove it and run \`vmo login\` again`);
  }
  for (const [name, ctx] of Object.entries(config.contexts)) {
    if (typeof ctx?.server !== 'string' || typeof ctx.token !== 'string') throw new CliError(`${path}: context "${name}" needs a "server" and a "token" string`);
  }
  return { contexts: config.contexts, ...(typeof config.current === 'string' ? { current: config.current } : {}) };
}

/**
 * Write the config so that only its owner can read it: the directory 0700, the file 0600, written
 * to a temporary file of that mode and renamed over the old one (a crash never leaves half a file,
 * and the token is never readable by others, not even for a moment).
 */
export function writeConfig(config: Config, path = configPath()): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // LOUD: the directory holds tokens; tighten it even if it existed (created by hand, or an old umask).
  chmodSync(dir, 0o700);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // the mode above is masked by the umask; this is not
  renameSync(tmp, path);
}
