import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import type { Readable } from 'node:stream';
import { Client, type ConnectConfig } from 'ssh2';
import type { SshEndpoint, SshRoute } from './ssh-endpoint.ts';
import { connectError, SshError } from './ssh-error.ts';
import { prepareHostKeyCheck, type HostKeyContext } from './verify-host-key.ts';

export interface SshSettings extends HostKeyContext {
  /** VMO_SSH_KEY_PASSPHRASE: for encrypted identity files. */
  keyPassphrase?: string;
  /** SSH_AUTH_SOCK of the worker: the running ssh-agent, tried after the identity file. */
  agentSocket?: string;
  connectTimeoutMs: number;
  /** Keepalives detect a dead peer during a long, silent command. */
  keepaliveMs?: number;
}

/** An authenticated connection to a route's target, with the bastion connections it rides on. */
export interface OpenConnection {
  client: Client;
  /** The target's key as verified (pool reuse re-checks it against the inventory's pins). */
  hostKey: string;
  hostKeySource: 'known_hosts' | 'pinned';
  /** Resolves when the target connection has closed, for whatever reason. */
  closed: Promise<void>;
  close(): void;
}

/**
 * Connect to the first hop directly, then to each next hop (and finally the target) through a
 * `direct-tcpip` channel of the previous one: OpenSSH's ProxyJump. Every hop is host-key-verified
 * and authenticated on its own, end to end; a bastion never sees the target session's plaintext.
 */
export async function openRoute(route: SshRoute, settings: SshSettings): Promise<OpenConnection> {
  const chain: Client[] = [];
  const closeAll = () => {
    for (const c of [...chain].reverse()) c.end();
  };
  try {
    let sock: Readable | undefined;
    const hops = [...route.jumps, route.target];
    let hostKey = '';
    let hostKeySource: OpenConnection['hostKeySource'] = 'pinned';
    for (let i = 0; i < hops.length; i++) {
      const hop = hops[i]!;
      const where = i < route.jumps.length ? `bastion ${hop.label}` : hop.label + (route.jumps.length ? ` via ${route.jumps.map((j) => j.label).join(' → ')}` : '');
      const { client, key, source } = await connectEndpoint(hop, settings, where, sock);
      chain.push(client);
      hostKey = key;
      hostKeySource = source;
      const next = hops[i + 1];
      if (next) sock = await forward(client, next, where);
    }
    const client = chain[chain.length - 1]!;
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    // A bastion dropping takes the target with it; the target closing releases the bastions.
    for (const c of chain.slice(0, -1)) c.once('close', () => client.end());
    void closed.then(closeAll);
    return { client, hostKey, hostKeySource, closed, close: closeAll };
  } catch (err) {
    closeAll();
    throw err;
  }
}

function connectEndpoint(endpoint: SshEndpoint, settings: SshSettings, where: string, sock: Readable | undefined): Promise<{ client: Client; key: string; source: OpenConnection['hostKeySource'] }> {
  return (async () => {
    const check = await prepareHostKeyCheck(endpoint, settings);
    const privateKey = endpoint.identityFile ? await readIdentity(endpoint, where) : undefined;
    if (!privateKey && !settings.agentSocket) {
      throw new SshError('ssh_auth_failed', `no way to authenticate to ${where}: the host has no identityFile and the worker has no SSH_AUTH_SOCK`);
    }
    const client = new Client();
    let verdictError: SshError | undefined;
    let presented = '';
    let source: OpenConnection['hostKeySource'] = 'pinned';
    const config: ConnectConfig = {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      ...(sock ? { sock } : {}),
      ...(privateKey ? { privateKey, passphrase: settings.keyPassphrase } : {}),
      ...(settings.agentSocket ? { agent: settings.agentSocket } : {}),
      readyTimeout: settings.connectTimeoutMs,
      keepaliveInterval: settings.keepaliveMs ?? 15_000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: check.algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => {
        check.verify(blob).then(
          (v) => {
            if (v.ok) {
              presented = v.key;
              source = v.source;
            } else verdictError = v.error;
            verify(v.ok);
          },
          (err: Error) => {
            verdictError = new SshError('ssh_connect_failed', `cannot verify the host key of ${where}: ${err.message}`);
            verify(false);
          },
        );
      },
    };
    return new Promise<{ client: Client; key: string; source: OpenConnection['hostKeySource'] }>((resolve, reject) => {
      let settled = false;
      // LOUD: the listener stays for the client's whole life. ssh2 may emit a second error while
      // tearing down (or later, a dropped connection); without a listener that crashes the worker.
      // After the handshake, a dropped connection surfaces as 'close', which the pool watches.
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(verdictError ?? connectError(err, where));
      };
      client.on('error', fail);
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        resolve({ client, key: presented, source });
      });
      try {
        client.connect(config);
      } catch (err) {
        fail(err as Error); // ssh2 throws synchronously for an unparsable or encrypted key
      }
    });
  })();
}

function forward(via: Client, next: SshEndpoint, where: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, next.host, next.port, (err, stream) => {
      if (!err) return resolve(stream);
      const reason = (err as Error & { reason?: number | string }).message;
      const code = /refused/i.test(reason) ? 'ssh_connect_refused' : 'ssh_jump_failed';
      reject(new SshError(code, `${where} could not open a connection to ${next.host}:${next.port}: ${reason}`));
    });
  });
}

async function readIdentity(endpoint: SshEndpoint, where: string): Promise<Buffer> {
  const path = expandLocalPath(endpoint.identityFile!, endpoint);
  try {
    return await readFile(path);
  } catch (err) {
    throw new SshError('ssh_key_unusable', `cannot read the identity file ${path} for ${where} on this worker: ${(err as Error).message}`);
  }
}

/** `~` and OpenSSH's %d %u %h %r %% tokens, resolved on the worker (the file lives there). */
export function expandLocalPath(path: string, endpoint: { host: string; user: string }): string {
  const home = homedir();
  let local = 'nobody';
  try {
    local = userInfo().username;
  } catch {
    // no passwd entry
  }
  const withHome = path === '~' || path.startsWith('~/') ? home + path.slice(1) : path;
  return withHome.replace(/%([duhr%])/g, (_, t: string) => ({ d: home, u: local, h: endpoint.host, r: endpoint.user, '%': '%' })[t]!);
}
