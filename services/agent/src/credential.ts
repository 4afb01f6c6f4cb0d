import { hostname } from 'node:os';
import type { AgentConfig } from './config.ts';
import { ConfigError } from './config.ts';
import { enrol, enrolmentName, EnrolmentRefused } from './enrol.ts';
import type { Logger } from './logger.ts';
import { assertWritable, enrolmentNonce, forgetEnrolmentNonce, openStateDir, stateToken, StateDirError, writeStateToken } from './state-dir.ts';
import { fixedToken, tokenFile, type TokenSource } from './token-source.ts';

/**
 * Where the agent's token comes from, enrolling first if it must (PROTOCOL.md §8):
 * - `--state-dir DIR` with DIR/agent.token: that file (any --enrol is ignored: enrolled already);
 * - `--state-dir DIR` without it: exchange --enrol for a token, keep it there (0600), use it
 *   (with the nonce kept in DIR/enrol.nonce before the first attempt, so a lost answer is retried safely);
 * - `--token-file F`: that file; `--token T`: that token.
 * Throws ConfigError for what the machine's configuration must fix (exit 78) and EnrolmentRefused
 * when the server refused the enrolment (exit 2).
 */
export async function agentCredential(config: AgentConfig, deps: { log: Logger; userAgent: string; signal: AbortSignal }): Promise<TokenSource> {
  if (config.stateDir === undefined) return config.tokenFile !== undefined ? tokenFile(config.tokenFile) : fixedToken(config.token!);
  let state;
  try {
    state = openStateDir(config.stateDir);
  } catch (err) {
    if (err instanceof StateDirError) throw new ConfigError(`invalid configuration: ${err.message}`);
    throw err;
  }
  const source = stateToken(state.tokenPath);
  if (state.enrolled) {
    const read = source.read();
    if ('problem' in read) throw new ConfigError(`invalid configuration: --state-dir: ${read.problem}`);
    if (config.enrolToken !== undefined) deps.log.info('already enrolled: the enrolment token is not used', { tokenFile: state.tokenPath });
    return source;
  }
  if (config.enrolToken === undefined) {
    throw new ConfigError(`invalid configuration: --state-dir: ${state.tokenPath} does not exist yet: enrol this agent with --enrol-file FILE (an enrolment token from POST /v1/enrolment-tokens)`);
  }
  let name: string;
  let nonce: string;
  try {
    name = enrolmentName(config.name ?? hostname(), config.name !== undefined);
    assertWritable(state.dir);
    // Kept before the first attempt: a retry after a lost answer, even by the next process, sends the same.
    nonce = enrolmentNonce(state.dir);
  } catch (err) {
    if (err instanceof EnrolmentRefused || err instanceof StateDirError) throw new ConfigError(`invalid configuration: ${err.message}`);
    throw err;
  }
  deps.log.info('enrolling', { name, servers: config.servers });
  const enrolled = await enrol({ servers: config.servers, enrolToken: config.enrolToken, name, nonce, userAgent: deps.userAgent, log: deps.log, signal: deps.signal });
  try {
    writeStateToken(state.tokenPath, enrolled.token);
  } catch (err) {
    // The token exists nowhere else: say what to do rather than leave an agent nobody can use.
    throw new EnrolmentRefused(
      `enrolled as agent ${enrolled.name} (${enrolled.agentId}) but could not keep its token in ${state.tokenPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): revoke that agent (DELETE /v1/agents/${enrolled.agentId}) and enrol again`,
    );
  }
  forgetEnrolmentNonce(state.dir);
  deps.log.info('enrolled', { agentId: enrolled.agentId, name: enrolled.name, labels: enrolled.labels, tokenFile: state.tokenPath });
  return source;
}
