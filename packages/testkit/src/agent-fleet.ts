/**
 * Many real agents (the agent's own code: connection, backoff with jitter, runner) in one
 * process, for the "200 agents reconnect at once" case: 200 agent processes would cost more CPU
 * than the test machine has. Tokens come one per line on stdin; servers in FLEET_SERVERS.
 * Prints `fleet ready <n>` once every agent was started; the agents log (JSON lines) on stderr.
 */
import { startAgent } from '@vmo/agent';

const servers = (process.env.FLEET_SERVERS ?? '').split(',').filter(Boolean);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const tokens = input.split('\n').filter(Boolean);
  const agents = tokens.map((token) => startAgent({ servers, token, logLevel: 'info', bufferBytes: 1024 * 1024 }));
  process.stdout.write(`fleet ready ${agents.length}\n`);
  process.on('SIGTERM', () => void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0)));
});
