import { z } from 'zod';
import type { ProviderKind } from '../domain/workspace.ts';
import { badRequest } from '../errors/app-error.ts';

/**
 * Each provider's template `config` (issue 18), checked when a template (version) is written: a
 * mistake is a 400 naming `config.<field>` then, not a failed operation later. Pure zod: the
 * contracts, the API and the providers (worker) import these, and a provider may `parse` its
 * config again to get the typed value. Permissive: unknown keys pass through (a provider may read
 * more than is listed here), but the listed ones have their types.
 */

const Ms = z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number of milliseconds').min(0, 'must not be negative').max(7 * 24 * 3_600_000, 'must be at most 7 days');

/**
 * `fake` (tests): per converge call what it does. Keyed by the DESIRED STATE (`converge_running`,
 * `converge_stopped`, `converge_absent`), not by operation type: the provider is only told where
 * to go (a `start` and a `restart` both end in converge('running')), so a per-operation key would
 * be accepted and silently do nothing; any other key is a 400.
 */
export const FakeTransitionScript = z
  .object({
    /** Lines it writes to the operation's log, in order. */
    logs: z.array(z.string().max(4096)).max(1000).optional(),
    /** Fails with this message (after its logs). */
    fail: z.string().min(1).max(4096).optional(),
    /** Waits this long (cancellable) before answering: a hang when longer than the operation's timeout. */
    hangMs: Ms.optional(),
  })
  .loose();
export type FakeTransitionScript = z.infer<typeof FakeTransitionScript>;

export const FakeProviderConfig = z
  .object({
    /** Where its environments live (default: VMO_FAKE_PROVIDER_DIR, else <tmpdir>/vmo-fake-provider). */
    dir: z.string({ error: 'must be an absolute path (a string)' }).regex(/^\//, 'must be an absolute path').max(1024).optional(),
    /** Run the real vmo agent (this checkout's sources) while running, so the workspace takes jobs. */
    agent: z.boolean({ error: 'must be true or false' }).optional(),
    script: z.partialRecord(z.enum(['converge_running', 'converge_stopped', 'converge_absent']), FakeTransitionScript).optional(),
  })
  .loose();
export type FakeProviderConfig = z.infer<typeof FakeProviderConfig>;

/** `netns`: a network namespace, a veth pair and a bubblewrap sandbox around a workspace directory. */
export const NetnsProviderConfig = z
  .object({
    /** Ignored by netns (no images): accepted so a template can be moved between providers. */
    image: z.string().optional(),
    /** Where workspace directories live (each `<directoryRoot>/<workspace id>`); absolute. */
    directoryRoot: z.string().regex(/^\//, 'must be an absolute path').max(1024).optional(),
    /** CPU quota, in CPUs (0.5 = half a core). */
    cpuQuota: z.number({ error: 'must be a number of CPUs' }).positive('must be more than 0').max(1024).optional(),
    /** Memory limit, in MiB. */
    memoryMiB: z.number().int().positive().optional(),
  })
  .loose();
export type NetnsProviderConfig = z.infer<typeof NetnsProviderConfig>;

const ShellCommand = z.string({ error: 'must be a shell command (a string)' }).min(1, 'must not be empty').max(16_384, 'must be at most 16384 characters');

/**
 * `command` (DevPod's contract): shell commands; `status` prints Running, Busy, Stopped or
 * NotFound. Options reach them as environment variables (`env`, and the workspace's params).
 */
export const CommandProviderConfig = z
  .object({
    create: ShellCommand,
    start: ShellCommand,
    stop: ShellCommand,
    delete: ShellCommand,
    status: ShellCommand,
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, 'variable names are letters, digits and "_", not starting with a digit'), z.string().max(16_384)).optional(),
    /** Each command's time limit. */
    timeoutMs: Ms.optional(),
  })
  .loose();
export type CommandProviderConfig = z.infer<typeof CommandProviderConfig>;

/** `docker` over the Engine API. */
export const DockerProviderConfig = z
  .object({
    image: z.string({ error: 'is required: the image the workspace runs (e.g. "ubuntu:24.04")' }).min(1, 'must not be empty').max(1024),
    /** The Engine API's address (unix:///var/run/docker.sock, tcp://…); default: DOCKER_HOST or the local socket. */
    host: z.string().max(1024).optional(),
    env: z.record(z.string(), z.string()).optional(),
    cpus: z.number().positive().optional(),
    memoryMiB: z.number().int().positive().optional(),
    /** Container path of the workspace's volume (kept across stop and rebuild). */
    volumePath: z.string().regex(/^\//, 'must be an absolute path').optional(),
    network: z.string().optional(),
  })
  .loose();
export type DockerProviderConfig = z.infer<typeof DockerProviderConfig>;

export const PROVIDER_CONFIG_SCHEMAS = {
  fake: FakeProviderConfig,
  netns: NetnsProviderConfig,
  command: CommandProviderConfig,
  docker: DockerProviderConfig,
} as const satisfies Record<ProviderKind, z.ZodType>;

export interface ProviderConfigs {
  fake: FakeProviderConfig;
  netns: NetnsProviderConfig;
  command: CommandProviderConfig;
  docker: DockerProviderConfig;
}

/**
 * `config` checked against `provider`'s schema: the parsed value, or 400 `validation_failed`
 * naming the first bad field as `config.<path>` (`field` prefix for other callers).
 */
export function parseProviderConfig<K extends ProviderKind>(provider: K, config: unknown, field = 'config'): ProviderConfigs[K] {
  const parsed = PROVIDER_CONFIG_SCHEMAS[provider].safeParse(config);
  if (parsed.success) return parsed.data as ProviderConfigs[K];
  const issue = parsed.error.issues[0]!;
  const path = [field, ...issue.path.map(String)].join('.');
  throw badRequest('validation_failed', `${path}: ${issue.message} (a ${provider} template's config)`, { field: path });
}
