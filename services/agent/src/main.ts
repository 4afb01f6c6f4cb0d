#!/usr/bin/env node
import { ConfigError, USAGE, loadAgentConfig } from './config.ts';
import { startAgent } from './index.ts';

/**
 * CLI entry (`vmo-agent`, `npm run agent -- …`). Exit codes: 0 stopped by a signal, 2 refused
 * by the server (revoked or unknown token: restarting would not help), 78 bad configuration.
 */
function main(): void {
  let config;
  try {
    config = loadAgentConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`vmo-agent: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  if (config === 'help') {
    process.stdout.write(USAGE);
    return;
  }

  const agent = startAgent({
    ...config,
    onFatal: (reason) => {
      process.stderr.write(`vmo-agent: ${reason}; not reconnecting. Issue a new agent token and restart.\n`);
      process.exit(2);
    },
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // Repeated signals do not cut the drain short: exiting early would orphan the jobs' process
    // groups. systemd's SIGKILL after TimeoutStopSec (KillMode=mixed) is the hard stop.
    if (stopping) return;
    stopping = true;
    process.stderr.write(`vmo-agent: ${signal}: draining (up to ${config.drainMs} ms), then exiting\n`);
    agent.stop().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`vmo-agent: stopping failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main();
