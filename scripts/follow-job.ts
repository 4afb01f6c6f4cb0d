/**
 * Follow a job's output live, like `tail -f`: `npm run follow -- <job id> [--after <seq>]`.
 * Writes stdout and stderr byte-exact to this process's stdout and stderr and exits with the
 * job's exit code (1 if it did not exit normally). Uses VMO_URL (default http://127.0.0.1:3121)
 * and VMO_TOKEN.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { after: { type: 'string' } } });
const jobId = positionals[0];
const token = process.env.VMO_TOKEN;
if (!jobId || !token) {
  process.stderr.write('usage: VMO_TOKEN=<token> npm run follow -- <job id> [--after <seq>]\n');
  process.exit(2);
}
const base = (process.env.VMO_URL ?? 'http://127.0.0.1:3121').replace(/^http/, 'ws');
const query = values.after ? `?after=${encodeURIComponent(values.after)}` : '';
const ws = new WebSocket(`${base}/v1/jobs/${encodeURIComponent(jobId)}/stream${query}`, { headers: { authorization: `Bearer ${token}` } });
let exitCode = 1;
ws.on('message', (raw) => {
  const msg = JSON.parse(raw.toString());
  if (msg.type === 'output') (msg.stream === 'stderr' ? process.stderr : process.stdout).write(Buffer.from(msg.data, 'base64'));
  else if (msg.type === 'end') {
    process.stderr.write(`\n[vmo] job ${jobId} ${msg.status}${msg.exitCode !== null ? ` (exit ${msg.exitCode})` : ''}${msg.signal ? ` (${msg.signal})` : ''}\n`);
    exitCode = msg.exitCode ?? 1;
  }
});
ws.on('unexpected-response', (_req, res) => {
  let body = '';
  res.on('data', (d: Buffer) => (body += d));
  res.on('end', () => {
    process.stderr.write(`[vmo] HTTP ${res.statusCode}: ${body}\n`);
    process.exit(2);
  });
});
ws.on('error', (err) => {
  process.stderr.write(`[vmo] ${err.message}\n`);
  process.exit(2);
});
ws.on('close', (code, reason) => {
  if (code !== 1000) process.stderr.write(`[vmo] stream closed ${code} ${reason.toString()}\n`);
  process.exit(exitCode);
});
