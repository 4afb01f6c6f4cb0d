#!/usr/bin/env node
import { ConfigError, USAGE, loadAgentConfig, type AgentConfig } from './config.ts';
import { agentCredential } from './credential.ts';
import { EnrolmentRefused } from './enrol.ts';
import { AGENT_VERSION, startAgent, type AgentHandle } from './index.ts';
import { createLogger } from './logger.ts';

/**
 * CLI entry (`vmo-agent`, `npm run agent -- …`). Exit codes: 0 stopped by a signal, 2 refused
 * by the server (revoked or unknown token, an enrolment refused: restarting would not help),
 * 78 bad configuration.
 */
async function main(): Promise<void> {
  if (process.argv.includes('--version')) return void process.stdout.write(`vmo-agent ${AGENT_VERSION}\n`);
  let config: AgentConfig | 'help';
  try {
    config = loadAgentConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fail(78, err.message); // EX_CONFIG
  }
  if (config === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const settings = config;

  let agent: AgentHandle | undefined;
  let stopping = false;
  const enrolling = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    // Repeated signals do not cut the drain short: exiting early would orphan the jobs' process
    // groups. systemd's SIGKILL after TimeoutStopSec (KillMode=mixed) is the hard stop.
    if (stopping) return;
    stopping = true;
    if (!agent) {
      // Still enrolling: nothing runs yet.
      enrolling.abort();
      process.stderr.write(`vmo-agent: ${signal}: stopping before enrolment finished\n`);
      process.exit(0);
    }
    process.stderr.write(`vmo-agent: ${signal}: draining (up to ${settings.drainMs} ms), then exiting\n`);
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

  let token;
  try {
    token = await agentCredential(settings, { log: createLogger(settings.logLevel, { component: 'vmo-agent' }), userAgent: `vmo-agent/${AGENT_VERSION}`, signal: enrolling.signal });
  } catch (err) {
    if (err instanceof ConfigError) return fail(78, err.message);
    if (err instanceof EnrolmentRefused) return fail(2, `${err.message}; not retrying`);
    throw err;
  }
  if (stopping) return;
  const fix = settings.stateDir !== undefined
    ? `Install a new agent token in ${settings.stateDir}/agent.token (POST /v1/agents/{id}/rotate-token), or remove that file and enrol again, then restart.`
    : 'Issue a new agent token and restart.';
  const { enrolToken: _enrolToken, token: _token, tokenFile: _tokenFile, stateDir: _stateDir, name: _name, ...options } = settings;
  agent = startAgent({
    ...options,
    token,
    onFatal: (reason) => fail(2, `${reason}; not reconnecting. ${fix}`),
  });
}

function fail(code: number, line: string): never {
  process.stderr.write(`vmo-agent: ${line}\n`);
  process.exit(code);
}

await main();
