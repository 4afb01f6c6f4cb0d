/**
 * Why an SSH job could not run. Each code is stable (clients branch on it) and lands in the
 * job's `error`; the message names the host (and the bastion, for a failed hop).
 *
 * | code                   | retry helps? | meaning                                                   |
 * |------------------------|--------------|-----------------------------------------------------------|
 * | ssh_target_not_allowed | no           | the host or a ProxyJump hop is outside VMO_SSH_ALLOWED_TARGETS; nothing was dialled |
 * | ssh_connect_failed     | maybe        | no SSH session could be set up: name not resolved, refused, unreachable, timed out, closed before or during the handshake, or a bastion could not reach the next hop |
 * | ssh_auth_failed        | no           | the server refused every key offered                      |
 * | ssh_key_unusable       | no           | the identity file is not a readable key under VMO_SSH_KEY_DIRS (see read-identity-file.ts) |
 * | host_key_mismatch      | no           | the server's key differs from the trusted one: possible MITM |
 * | host_key_unknown       | no           | strict policy and no trusted key for this host            |
 * | host_key_revoked       | no           | the key is marked @revoked in known_hosts                 |
 * | ssh_jump_failed        | no           | a ProxyJump hop is not `[user@]host[:port]`               |
 * | ssh_channel_failed     | maybe        | the connection is up but a session could not be opened    |
 * | ssh_connection_lost    | maybe        | the connection dropped while the command ran              |
 *
 * LOUD: the reachability failures are one code with one message on purpose. A job's `error` is
 * read by whoever may submit jobs; "refused" versus "timed out" versus "closed before the
 * handshake" would turn the API into a port scanner of every network the worker can reach. The
 * precise cause goes to the worker's log only (see `reachFailure`).
 */
export type SshErrorCode =
  | 'ssh_target_not_allowed'
  | 'ssh_connect_failed'
  | 'ssh_auth_failed'
  | 'ssh_key_unusable'
  | 'host_key_mismatch'
  | 'host_key_unknown'
  | 'host_key_revoked'
  | 'ssh_jump_failed'
  | 'ssh_channel_failed'
  | 'ssh_connection_lost';

export class SshError extends Error {
  constructor(
    readonly code: SshErrorCode,
    message: string,
    /** What the operator needs and the job's reader must not see; logged by the worker, never stored. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

/** `host:port`, IPv6 in brackets as OpenSSH writes it. */
export const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** The one answer for "could not get to an SSH server there"; `detail` is the real cause, for the log. */
export function reachFailure(target: { host: string; port: number }, via: string, detail: string): SshError {
  return new SshError('ssh_connect_failed', `could not reach ${hostPort(target.host, target.port)}${via}`, detail);
}

/** An ssh2 / socket error raised while setting up the connection to `target` (`via`: " via bastion …" or ""). */
export function connectError(err: Error & { code?: string; level?: string }, target: { host: string; port: number; label: string }, via: string): SshError {
  if (err instanceof SshError) return err;
  if (err.level === 'client-authentication') {
    return new SshError('ssh_auth_failed', `${target.label}${via} refused every key offered (identity file and ssh-agent); check the host's user and identityFile`);
  }
  return reachFailure(target, via, `${err.code ?? err.level ?? 'error'}: ${err.message}`);
}
