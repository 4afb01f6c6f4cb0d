import { spawn } from 'node:child_process';
import { emit, exitAfter, finish, loadArgs } from '../load/emit.ts';

/**
 * The SSH floor without a pool: the OpenSSH client binary run once per job
 * (`ssh -i key -p port -o BatchMode=yes -o UserKnownHostsFile=… user@host true`), a full
 * connect, key exchange and authentication each time. `concurrency` runs in a closed loop until
 * `count` have exited or `durationMs` has passed; a run counts as completed when ssh exits 0.
 */
interface Args {
  host: string;
  port: number;
  user: string;
  identityFile: string;
  knownHosts: string;
  command: string;
  concurrency: number;
  count: number;
  durationMs: number;
  deadlineMs: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'ssh-per-job');

const SSH_ARGS = [
  '-i', args.identityFile,
  '-p', String(args.port),
  '-o', 'BatchMode=yes',
  '-o', 'IdentitiesOnly=yes',
  '-o', `UserKnownHostsFile=${args.knownHosts}`,
  '-o', 'StrictHostKeyChecking=yes',
  '-o', 'ControlMaster=no',
  '-o', 'ControlPath=none',
  '-F', '/dev/null',
  `${args.user}@${args.host}`,
  args.command,
];

function runOnce(): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', SSH_ARGS, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
    child.once('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const stopAt = startedAt + args.durationMs;
  let issued = 0;
  let completed = 0;
  let failed = 0;
  let lastEnd = startedAt;
  let firstError: string | undefined;
  emit('started', { startedAt });
  const client = async () => {
    while (issued < args.count && Date.now() < stopAt) {
      issued++;
      const { code, stderr } = await runOnce();
      // A run still going at the time bound is not counted: only what ended inside it.
      if (Date.now() > stopAt) break;
      lastEnd = Date.now();
      if (code === 0) completed++;
      else {
        failed++;
        firstError ??= `exit ${code}: ${stderr.trim()}`;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, client));
  finish({ completed, failed, firstError, startedAt, lastEnd, perSecond: completed / ((lastEnd - startedAt) / 1000) });
}

main().catch((err: Error) => {
  emit('error', { message: err.stack ?? err.message });
  process.exit(1);
});
