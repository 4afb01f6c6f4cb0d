import { createHash } from 'node:crypto';
import type { Sql } from 'postgres';
import { pinFirstHostKey } from '@vmo/shared/hosts';
import { keysFor, readKnownHosts } from './known-hosts.ts';
import type { SshEndpoint } from './ssh-endpoint.ts';
import { SshError } from './ssh-error.ts';

export interface HostKeyContext {
  knownHostsFile: string;
  sql: Sql;
}

/** `pinned`: trusted only through the inventory (so a later change of the pins can retire the connection). */
export type HostKeyVerdict = { ok: true; key: string; source: 'known_hosts' | 'pinned' } | { ok: false; error: SshError };

/** ssh2 hands the verifier the raw key blob; known_hosts stores `"<algorithm> <base64 blob>"`. */
export function keyEntry(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return `${blob.subarray(4, 4 + len).toString('latin1')} ${blob.toString('base64')}`;
}

/** OpenSSH's fingerprint format, for messages an operator can compare with `ssh-keygen -lf`. */
export function fingerprint(entry: string): string {
  const blob = Buffer.from(entry.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const RSA_ALGORITHMS = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const ALL_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', ...RSA_ALGORITHMS];

/**
 * The host key check for one endpoint, prepared before connecting: the trusted keys (known_hosts
 * file + inventory pins) and the host key algorithms to offer, known types first, as OpenSSH does,
 * so a host with several keys presents the one we know instead of a spurious mismatch.
 *
 * LOUD: this is the only thing standing between a job's command and an impostor host. Every path
 * that does not find the presented key among the trusted ones refuses, except accept-new's very
 * first contact with an inventory host, which pins the key atomically (pinFirstHostKey).
 */
export async function prepareHostKeyCheck(endpoint: SshEndpoint, ctx: HostKeyContext) {
  const { trusted: fromFile, revoked } = keysFor(await readKnownHosts(ctx.knownHostsFile), endpoint.host, endpoint.port);
  const trusted = [...new Set([...fromFile, ...endpoint.pinnedHostKeys])];
  const knownTypes = new Set(trusted.map((k) => k.split(' ')[0]!).flatMap((t) => (t === 'ssh-rsa' ? RSA_ALGORITHMS : [t])));
  const algorithms = [...ALL_ALGORITHMS.filter((a) => knownTypes.has(a)), ...ALL_ALGORITHMS.filter((a) => !knownTypes.has(a))];

  async function verify(blob: Buffer): Promise<HostKeyVerdict> {
    const presented = keyEntry(blob);
    const where = endpoint.label;
    if (revoked.includes(presented)) return refuse('host_key_revoked', `the host key of ${where} (${fingerprint(presented)}) is marked @revoked in ${ctx.knownHostsFile}`);
    if (fromFile.includes(presented)) return { ok: true, key: presented, source: 'known_hosts' };
    if (trusted.includes(presented)) return { ok: true, key: presented, source: 'pinned' };
    if (trusted.length > 0) {
      return refuse(
        'host_key_mismatch',
        `the host key of ${where} has changed: it presented ${fingerprint(presented)}, trusted are ${trusted.map(fingerprint).join(', ')}. ` +
          `This may be an impostor; the command was not run. If the change is legitimate, update ${ctx.knownHostsFile} or the host's pinnedHostKeys.`,
      );
    }
    if (endpoint.hostKeyPolicy === 'accept-new' && endpoint.hostId) {
      const pinned = await pinFirstHostKey(ctx.sql, endpoint.hostId, presented);
      if (pinned?.includes(presented)) return { ok: true, key: presented, source: 'pinned' };
      return refuse('host_key_mismatch', `the host key of ${where} (${fingerprint(presented)}) differs from the key pinned by a concurrent first connection; the command was not run`);
    }
    return refuse(
      'host_key_unknown',
      `no trusted host key for ${where} (it presented ${fingerprint(presented)}): add it to ${ctx.knownHostsFile} (ssh-keyscan), pin it in the host's pinnedHostKeys, or set hostKeyPolicy "accept-new"` +
        (endpoint.hostId ? '' : ' on an inventory host used as this bastion'),
    );
  }
  return { algorithms, verify };
}

function refuse(code: 'host_key_mismatch' | 'host_key_unknown' | 'host_key_revoked', message: string): HostKeyVerdict {
  return { ok: false, error: new SshError(code, message) };
}
