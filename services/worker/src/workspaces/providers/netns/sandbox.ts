import { spawn } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidsInNetns } from './network.ts';

/**
 * The bubblewrap sandbox that runs a workspace's agent, inside its network namespace.
 *
 * Layout of a workspace (`<root>/<workspace id>`):
 *   workspace/   the user's files, bound read-write at /workspace (snapshots archive this, only)
 *   agent/       0700, bound read-only at /run/vmo: agent.token (0600)
 *   run/         0700, host only: agent.pid, agent.log, hosts
 *
 * LOUD: the agent's token reaches it as a FILE (--token-file), never as an argument: every user of
 * the host can read any process's /proc/PID/cmdline (`ps`), so a token on a command line is a
 * token published. The agent reads the file again at each connection, so the token the engine
 * rotates at each start is picked up by rewriting the file. The directory is bound, not the file:
 * the file is replaced by a rename, which a file bind mount would not see.
 *
 * The agent must outlive the worker (a worker restart must not stop every workspace), so it runs
 * detached: its own session and process group (setsid), its pid and start time in run/agent.pid,
 * found again from there by whichever worker comes next. `--die-with-parent` ties the sandbox to
 * bwrap's own monitor process (the pidfile's pid), not to the worker; `--unshare-pid` makes the
 * agent's jobs die with the sandbox's init, whatever process group they put themselves in.
 */

export interface WorkspacePaths {
  dir: string;
  data: string;
  secrets: string;
  run: string;
  tokenFile: string;
  pidFile: string;
  logFile: string;
  hostsFile: string;
}

export function workspacePaths(root: string, workspaceId: string): WorkspacePaths {
  const dir = join(root, workspaceId);
  return {
    dir,
    data: join(dir, 'workspace'),
    secrets: join(dir, 'agent'),
    run: join(dir, 'run'),
    tokenFile: join(dir, 'agent', 'agent.token'),
    pidFile: join(dir, 'run', 'agent.pid'),
    logFile: join(dir, 'run', 'agent.log'),
    hostsFile: join(dir, 'run', 'hosts'),
  };
}

export async function ensureDirectories(p: WorkspacePaths): Promise<void> {
  await mkdir(p.data, { recursive: true, mode: 0o755 });
  await mkdir(p.secrets, { recursive: true, mode: 0o700 });
  await mkdir(p.run, { recursive: true, mode: 0o700 });
}

/** Writes the token (0600) by a rename, so the agent never reads half a file. */
export async function writeToken(p: WorkspacePaths, token: string): Promise<void> {
  const tmp = `${p.tokenFile}.${process.pid}.tmp`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600 });
  await rename(tmp, p.tokenFile);
}

interface PidRecord {
  pid: number;
  /** Field 22 of /proc/PID/stat: the pid is this process, not a later one that got its number. */
  startTime: string;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name, which may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function readPidRecord(p: WorkspacePaths): Promise<PidRecord | undefined> {
  try {
    const rec = JSON.parse(await readFile(p.pidFile, 'utf8')) as PidRecord;
    return Number.isInteger(rec.pid) && rec.pid > 1 ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** The sandbox's monitor pid when the one the pidfile names is alive (same start time), else undefined. */
export async function livePid(p: WorkspacePaths): Promise<number | undefined> {
  const rec = await readPidRecord(p);
  return rec && startTimeOf(rec.pid) === rec.startTime ? rec.pid : undefined;
}

export interface SandboxSpec {
  netns: string;
  hostname: string;
  serverUrl: string;
  labels: Record<string, string>;
  /** A directory holding vmo-agent.mjs (bound read-only at /opt/vmo-agent). */
  agentDir: string;
  /** node-pty's directory (the agent offers shells with it), if the worker has one. */
  nodePtyDir?: string;
  nodePath: string;
  drainMs: number;
  /** cgroup.procs files the sandbox joins before it starts (cgroups.ts). */
  cgroupProcs?: string[];
}

const HOST_ETC = ['passwd', 'group', 'nsswitch.conf', 'resolv.conf', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'localtime', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives', 'mime.types'];

/** bwrap's arguments (exported for the tests). */
export function bwrapArgs(p: WorkspacePaths, spec: SandboxSpec): string[] {
  const args = [
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-uts',
    '--unshare-ipc',
    '--unshare-cgroup-try',
    '--hostname', spec.hostname,
    // LOUD: bwrap run by root keeps every capability unless told; with them a job could mknod the
    // host's disk or remount. The sandbox's root is a root without capabilities.
    '--cap-drop', 'ALL',
    '--ro-bind', '/usr', '/usr',
  ];
  // Merged /usr (bin -> usr/bin, …) as symlinks; otherwise the real directories, read-only.
  for (const top of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    let link: boolean;
    try {
      link = lstatSync(`/${top}`).isSymbolicLink();
    } catch {
      continue;
    }
    if (link) args.push('--symlink', `usr/${top}`, `/${top}`);
    else args.push('--ro-bind', `/${top}`, `/${top}`);
  }
  // Only what programs need from /etc: not the host's /etc itself (shadow, ssh keys, vmo's own config).
  for (const name of HOST_ETC) args.push('--ro-bind-try', `/etc/${name}`, `/etc/${name}`);
  args.push('--ro-bind', p.hostsFile, '/etc/hosts');
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/run');
  args.push('--ro-bind', p.secrets, '/run/vmo');
  args.push('--bind', p.data, '/workspace', '--chdir', '/workspace');
  args.push('--ro-bind', spec.agentDir, '/opt/vmo-agent');
  if (spec.nodePtyDir) args.push('--ro-bind', spec.nodePtyDir, '/opt/vmo-agent/node_modules/node-pty');
  if (!spec.nodePath.startsWith('/usr/')) args.push('--ro-bind', spec.nodePath, spec.nodePath);
  args.push(spec.nodePath, '/opt/vmo-agent/vmo-agent.mjs', '--server', spec.serverUrl, '--token-file', '/run/vmo/agent.token', '--drain-ms', String(spec.drainMs));
  return args;
}

/**
 * Starts the sandboxed agent, detached, and records it. Throws (with the end of its log) when it
 * exits at once, which is what a bad bind or a missing bwrap looks like.
 */
export async function startAgent(p: WorkspacePaths, spec: SandboxSpec): Promise<number> {
  await writeFile(p.hostsFile, `127.0.0.1\tlocalhost\n127.0.1.1\t${spec.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`, { mode: 0o644 });
  if (spec.nodePtyDir) await mkdir(join(spec.agentDir, 'node_modules', 'node-pty'), { recursive: true });
  // One older log is kept; past 8 MiB the current one becomes it (an agent restarting in a loop
  // must not fill the disk).
  if (((await stat(p.logFile).catch(() => undefined))?.size ?? 0) > 8 * 1024 * 1024) await rename(p.logFile, `${p.logFile}.1`);
  const log = await open(p.logFile, 'a', 0o600);
  const labels = Object.entries(spec.labels)
    .filter(([, v]) => !v.includes(','))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  // LOUD: a clean environment, not the worker's: the worker's holds database URLs and secrets.
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/workspace',
    LANG: 'C.UTF-8',
    VMO_LOG_LEVEL: 'info',
    ...(labels ? { VMO_AGENT_LABELS: labels } : {}),
  };
  let child;
  try {
    const command = ['ip', 'netns', 'exec', spec.netns, 'bwrap', ...bwrapArgs(p, spec)];
    const procs = spec.cgroupProcs ?? [];
    // In its cgroups before anything forks: a shell writes its own pid there, then execs the
    // sandbox (same pid, so the pidfile's pid is still right). The paths are arguments, not text.
    const argv = procs.length === 0 ? command : ['sh', '-c', 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 70; shift; n=$((n-1)); done; exec "$@"', 'sh', String(procs.length), ...procs, ...command];
    child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log.fd, log.fd], env });
    await new Promise<void>((resolve, reject) => {
      child!.once('spawn', resolve);
      child!.once('error', reject);
    });
  } finally {
    await log.close();
  }
  const pid = child.pid!;
  const startTime = startTimeOf(pid);
  await writeFile(p.pidFile, JSON.stringify({ pid, startTime } satisfies Partial<PidRecord>), { mode: 0o600 });
  child.unref();
  // A sandbox that cannot start exits within moments; one that runs stays. Bounded, not a sleep for
  // something to happen: the agent's connection is the engine's to wait for.
  const exited = await Promise.race([new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))), sleep(1500).then(() => 'running' as const)]);
  if (exited !== 'running') {
    const tail = (await readFile(p.logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
    throw new Error(`netns: the sandboxed agent exited at once (code ${exited}): ${tail}`);
  }
  return pid;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitGone(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/**
 * Stops the agent and everything in the namespace: SIGTERM to the sandbox's process group (the
 * agent drains), then SIGKILL to the group and to every process `ip netns pids` still names (jobs
 * in their own groups die with the sandbox's init; anything else that joined the namespace is
 * killed by pid). Throws when something survives, rather than deleting the namespace under it.
 */
export async function stopAgent(p: WorkspacePaths, netns: string, graceMs: number, log: (line: string) => void): Promise<void> {
  const pid = await livePid(p);
  const none = async () => (await livePid(p)) === undefined && (await pidsInNetns(netns)).length === 0;
  if (pid !== undefined) {
    kill(-pid, 'SIGTERM');
    log(`stopping the agent (process group ${pid})`);
  }
  if (!(await waitGone(none, pid !== undefined ? graceMs : 0))) {
    const live = await livePid(p);
    if (live !== undefined) kill(-live, 'SIGKILL');
    for (const stray of await pidsInNetns(netns)) kill(stray, 'SIGKILL');
    log('killed what was left in the sandbox (SIGKILL)');
    if (!(await waitGone(none, 10_000))) throw new Error(`netns: processes are still running in ${netns} after SIGKILL`);
  }
  await rm(p.pidFile, { force: true });
}

