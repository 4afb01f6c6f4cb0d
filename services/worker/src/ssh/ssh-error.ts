/**
 * Why an SSH job could not run. Each code is stable (clients branch on it) and lands in the
 * job's `error`; the message names the host (and the bastion, for a failed hop).
 *
 * | code                 | retry helps? | meaning                                                   |
 * |----------------------|--------------|-----------------------------------------------------------|
 * | ssh_connect_refused  | maybe        | nothing listens on the port (or a bastion could not reach it) |
 * | ssh_dns              | maybe        | the name does not resolve                                 |
 * | ssh_unreachable      | maybe        | no route to the host                                      |
 * | ssh_timeout          | maybe        | no SSH handshake within the connect timeout               |
 * | ssh_auth_failed      | no           | the server refused every key offered                      |
 * | ssh_key_unusable     | no           | identity file missing, unreadable, or encrypted without VMO_SSH_KEY_PASSPHRASE |
 * | host_key_mismatch    | no           | the server's key differs from the trusted one: possible MITM |
 * | host_key_unknown     | no           | strict policy and no trusted key for this host            |
 * | host_key_revoked     | no           | the key is marked @revoked in known_hosts                 |
 * | ssh_jump_failed      | maybe        | a ProxyJump hop failed in another way                     |
 * | ssh_channel_failed   | maybe        | the connection is up but a session could not be opened    |
 * | ssh_connection_lost  | maybe        | the connection dropped while the command ran              |
 * | ssh_connect_failed   | maybe        | anything else while connecting                            |
 */
export type SshErrorCode =
  | 'ssh_connect_refused'
  | 'ssh_dns'
  | 'ssh_unreachable'
  | 'ssh_timeout'
  | 'ssh_auth_failed'
  | 'ssh_key_unusable'
  | 'host_key_mismatch'
  | 'host_key_unknown'
  | 'host_key_revoked'
  | 'ssh_jump_failed'
  | 'ssh_channel_failed'
  | 'ssh_connection_lost'
  | 'ssh_connect_failed';

export class SshError extends Error {
  constructor(
    readonly code: SshErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

/** An ssh2 / socket error raised while connecting to `where` (e.g. `deploy@10.0.0.5:22 via bastion`). */
export function connectError(err: Error & { code?: string; level?: string }, where: string): SshError {
  if (err instanceof SshError) return err;
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return new SshError('ssh_connect_refused', `connection refused by ${where}`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || err.level === 'client-dns') return new SshError('ssh_dns', `cannot resolve the host name of ${where}: ${err.message}`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new SshError('ssh_unreachable', `no route to ${where}`);
  if (code === 'ETIMEDOUT' || err.level === 'client-timeout') return new SshError('ssh_timeout', `no SSH handshake with ${where} within the connect timeout`);
  if (err.level === 'client-authentication') return new SshError('ssh_auth_failed', `${where} refused every key offered (identity file and ssh-agent); check the host's user and identityFile`);
  if (/privateKey|passphrase|private key/i.test(err.message)) return new SshError('ssh_key_unusable', `cannot use the identity file for ${where}: ${err.message}`);
  return new SshError('ssh_connect_failed', `cannot connect to ${where}: ${err.message}`);
}
