/**
 * Follow a job's output live, like `tail -f`: `npm run follow -- <job id> [--after <seq>]`.
 * Writes stdout and stderr byte-exact to this process's stdout and stderr and exits with the
 * job's exit code (1 if it did not exit normally; 2 if the stream could not be followed). Resumes
 * by itself when the API node restarts or a store is briefly down (the client's follow()).
 *
 * A run (`npm run follow -- <run id> [--after <cursor>] [--no-output]`): every child's output,
 * line by line, prefixed with its target (`web-1 | …`; stderr lines to stderr), each child's end
 * and the run's progress on stderr; exits 0 if the run succeeded, 1 if not, 2 if it could not be
 * followed. Uses VMO_URL (default http://127.0.0.1:3121) and VMO_TOKEN.
 */
import { parseArgs } from 'node:util';
import { VmoApiError, VmoClient, VmoStreamClosedError } from '@vmo/client';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { after: { type: 'string' }, 'no-output': { type: 'boolean', default: false } } });
const id = positionals[0];
const token = process.env.VMO_TOKEN;
if (!id || !token) {
  process.stderr.write('usage: VMO_TOKEN=<token> npm run follow -- <job id> [--after <seq>]\n       VMO_TOKEN=<token> npm run follow -- <run id> [--after <cursor>] [--no-output]\n');
  process.exit(2);
}
const client = new VmoClient({ baseUrl: process.env.VMO_URL ?? 'http://127.0.0.1:3121', token });

try {
  process.exitCode = id.startsWith('run_') ? await followRun(id) : await followJob(id);
} catch (err) {
  if (err instanceof VmoApiError) process.stderr.write(`[vmo] HTTP ${err.status} ${err.code}: ${err.message}\n`);
  else if (err instanceof VmoStreamClosedError) process.stderr.write(`[vmo] ${err.message}\n`);
  else process.stderr.write(`[vmo] ${(err as Error).message}\n`);
  process.exitCode = 2;
}

async function followJob(jobId: string): Promise<number> {
  const end = await client.follow(jobId, {
    // A value that is not a seq is the server's to refuse (400 naming `after`).
    ...(values.after === undefined ? {} : { after: Number(values.after) }),
    onOutput: (chunk) => (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.data),
    onReconnect: (r) => process.stderr.write(`[vmo] ${r.closeCode ? `stream closed ${r.closeCode}` : r.status ? `HTTP ${r.status}` : (r.error?.message ?? 'interrupted')}; resuming after seq ${r.after} in ${r.delayMs} ms\n`),
  });
  process.stderr.write(`\n[vmo] job ${jobId} ${end.status}${end.exitCode !== null ? ` (exit ${end.exitCode})` : ''}${end.signal ? ` (${end.signal})` : ''}\n`);
  // exitCode, not exit(): what is still being written to a pipe is flushed first.
  return end.exitCode ?? 1;
}

async function followRun(runId: string): Promise<number> {
  // A child's partial last line is kept until its newline (or its end), so lines of different
  // children never interleave mid-line.
  const partial = new Map<string, Buffer>();
  let lastDone = -1;
  const writeLines = (key: string, target: string, stream: 'stdout' | 'stderr', data: Uint8Array, flush: boolean) => {
    const out = stream === 'stderr' ? process.stderr : process.stdout;
    let buf = Buffer.concat([partial.get(key) ?? Buffer.alloc(0), data]);
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) !== -1) {
      out.write(Buffer.concat([Buffer.from(`${target} | `), buf.subarray(0, nl + 1)]));
      buf = buf.subarray(nl + 1);
    }
    if (flush && buf.length > 0) {
      out.write(Buffer.concat([Buffer.from(`${target} | `), buf, Buffer.from('\n')]));
      buf = Buffer.alloc(0);
    }
    partial.set(key, buf);
  };
  const end = await client.runs.follow(runId, {
    ...(values.after === undefined ? {} : { after: values.after }),
    output: !values['no-output'],
    onOutput: (c) => writeLines(`${c.jobId}:${c.stream}`, c.target, c.stream, c.data, false),
    onStatus: (s) => {
      if (s.status === 'queued' || s.status === 'running') return;
      for (const stream of ['stdout', 'stderr'] as const) writeLines(`${s.jobId}:${stream}`, s.target, stream, new Uint8Array(), true);
      process.stderr.write(`[vmo] ${s.target}: ${s.status}${s.exitCode !== null ? ` (exit ${s.exitCode})` : ''}${s.error ? ` ${s.error.code}` : ''}\n`);
    },
    onProgress: (p) => {
      if (p.done === lastDone) return; // a line per change of progress, not per window
      lastDone = p.done;
      process.stderr.write(`[vmo] run ${p.status}: ${p.done}/${p.total} done\n`);
    },
    onReconnect: (r) => process.stderr.write(`[vmo] ${r.closeCode ? `stream closed ${r.closeCode}` : r.status ? `HTTP ${r.status}` : (r.error?.message ?? 'interrupted')}; resuming in ${r.delayMs} ms\n`),
  });
  process.stderr.write(`\n[vmo] run ${runId} ${end.status}${end.error ? ` (${end.error.code}: ${end.error.message})` : ''}\n`);
  return end.status === 'succeeded' ? 0 : 1;
}
