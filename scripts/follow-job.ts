/**
 * Follow a job's output live, like `tail -f`: `npm run follow -- <job id> [--after <seq>]`.
 * Writes stdout and stderr byte-exact to this process's stdout and stderr and exits with the
 * job's exit code (1 if it did not exit normally; 2 if the stream could not be followed). Resumes
 * by itself when the API node restarts or a store is briefly down (the client's follow()). Uses
 * VMO_URL (default http://127.0.0.1:3121) and VMO_TOKEN.
 */
import { parseArgs } from 'node:util';
import { VmoApiError, VmoClient, VmoStreamClosedError } from '@vmo/client';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { after: { type: 'string' } } });
const jobId = positionals[0];
const token = process.env.VMO_TOKEN;
if (!jobId || !token) {
  process.stderr.write('usage: VMO_TOKEN=<token> npm run follow -- <job id> [--after <seq>]\n');
  process.exit(2);
}
const client = new VmoClient({ baseUrl: process.env.VMO_URL ?? 'http://127.0.0.1:3121', token });

try {
  const end = await client.follow(jobId, {
    // A value that is not a seq is the server's to refuse (400 naming `after`).
    ...(values.after === undefined ? {} : { after: Number(values.after) }),
    onOutput: (chunk) => (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.data),
    onReconnect: (r) => process.stderr.write(`[vmo] ${r.closeCode ? `stream closed ${r.closeCode}` : r.status ? `HTTP ${r.status}` : (r.error?.message ?? 'interrupted')}; resuming after seq ${r.after} in ${r.delayMs} ms\n`),
  });
  process.stderr.write(`\n[vmo] job ${jobId} ${end.status}${end.exitCode !== null ? ` (exit ${end.exitCode})` : ''}${end.signal ? ` (${end.signal})` : ''}\n`);
  // exitCode, not exit(): what is still being written to a pipe is flushed first.
  process.exitCode = end.exitCode ?? 1;
} catch (err) {
  if (err instanceof VmoApiError) process.stderr.write(`[vmo] HTTP ${err.status} ${err.code}: ${err.message}\n`);
  else if (err instanceof VmoStreamClosedError) process.stderr.write(`[vmo] ${err.message}\n`);
  else process.stderr.write(`[vmo] ${(err as Error).message}\n`);
  process.exitCode = 2;
}
