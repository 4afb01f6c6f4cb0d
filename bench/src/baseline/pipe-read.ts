import { spawn } from 'node:child_process';
import { emit, exitAfter, finish, loadArgs } from '../load/emit.ts';
import { preciseNow } from '../stats.ts';

/** The output baseline: the same command, its stdout read through a pipe in Node and counted. */
interface Args {
  command: string;
  deadlineMs: number;
}

const args = loadArgs<Args>();
exitAfter(args.deadlineMs, 'pipe-read');

const t0 = preciseNow();
const child = spawn('/bin/sh', ['-c', args.command], { stdio: ['ignore', 'pipe', 'inherit'] });
let bytes = 0;
child.stdout.on('data', (d: Buffer) => (bytes += d.length));
child.once('error', (err) => {
  emit('error', { message: err.message });
  process.exit(1);
});
child.once('close', (code) => finish({ bytes, code, ms: preciseNow() - t0 }));
