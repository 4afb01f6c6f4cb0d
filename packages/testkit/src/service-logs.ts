import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A secret value tests put where secrets go (job env values, header values, request bodies,
 * bad input) and that must never reach a service's log. After the run, every captured service
 * log is searched for it (global-setup.ts): one hit fails the run.
 */
export const CANARY_SECRET = 'vmo-canary-S3cr3t-7Hq2xK9pLw4mZr8N';

/** Set by the global setup for the test processes: where this run's service logs go. */
export const LOG_DIR_VAR = 'VMO_TEST_LOG_DIR';
const ROOT = join(tmpdir(), 'vmo-test-logs');
const SECRETS_FILE = 'secrets.jsonl';
/**
 * Runs untouched for this long are deleted when a run starts. By age, not by count: several runs
 * may share the machine (and ROOT) at once, and none may delete another's directory mid-run.
 */
const KEEP_MS = 24 * 3600_000;

/** A fresh directory for this run's logs; runs older than a day are removed. */
export function createRunLogDir(): string {
  mkdirSync(ROOT, { recursive: true });
  for (const name of readdirSync(ROOT)) {
    try {
      if (Date.now() - statSync(join(ROOT, name)).mtimeMs > KEEP_MS) rmSync(join(ROOT, name), { recursive: true, force: true });
    } catch {
      // removed meanwhile by another run
    }
  }
  const dir = join(ROOT, `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** This run's log directory (one per process when a file runs without the global setup). */
export function serviceLogDir(): string {
  const dir = process.env[LOG_DIR_VAR] ?? join(ROOT, `adhoc-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Add a value that no service log of this run may contain (a token a test system uses). */
export function registerSecret(label: string, value: string): void {
  appendFileSync(join(serviceLogDir(), SECRETS_FILE), JSON.stringify({ label, value }) + '\n');
}

/** Env variables whose values ServiceProcess registers as secrets. Short values are test typos, not tokens. */
export const SECRET_ENV = ['VMO_ADMIN_TOKEN', 'VMO_AGENT_TOKEN', 'VMO_AGENT_ENROL_TOKEN', 'VMO_SSH_KEY_PASSPHRASE', 'VMO_SECRET_KEY'];
export const MIN_REGISTERED_SECRET = 24;

export interface SecretLeak {
  file: string;
  label: string;
  /** The line it appeared on, the secret replaced by «label». */
  line: string;
}

/** Every service log in `dir` searched for the canary and each registered secret. */
export function findSecretsInLogs(dir: string): SecretLeak[] {
  const secrets = [{ label: 'CANARY_SECRET', value: CANARY_SECRET }];
  try {
    for (const line of readFileSync(join(dir, SECRETS_FILE), 'utf8').split('\n')) if (line) secrets.push(JSON.parse(line));
  } catch {
    // no secrets registered in this run
  }
  const leaks: SecretLeak[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    const text = readFileSync(join(dir, file), 'latin1');
    for (const { label, value } of secrets) {
      const needle = Buffer.from(value).toString('latin1');
      const at = text.indexOf(needle);
      if (at === -1) continue;
      const start = text.lastIndexOf('\n', at) + 1;
      const end = text.indexOf('\n', at);
      leaks.push({ file: join(dir, file), label, line: text.slice(start, end === -1 ? undefined : end).split(needle).join(`«${label}»`).slice(0, 2000) });
    }
  }
  return leaks;
}
