import { homedir, userInfo } from 'node:os';
import type { Readable } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { Logger } from '@vmo/shared/logger';
import type { TargetPolicy } from './allowed-targets.ts';
import { planHop, type ResolveName } from './plan-hop.ts';
import { readIdentityFile } from './read-identity-file.ts';
import type { SshEndpoint, SshRoute } from './ssh-endpoint.ts';
import { connectError, reachFailure, SshError } from './ssh-error.ts';
import { prepareHostKeyCheck, type HostKeyContext } from './verify-host-key.ts';

export interface SshSettings extends HostKeyContext {
  /** VMO_SSH_KEY_PASSPHRASE: for encrypted identity files. */
  keyPassphrase?: string;
  /** SSH_AUTH_SOCK of the worker: the running ssh-agent, tried after the identity file. */
  agentSocket?: string;
  /** Per hop: name lookup, TCP connect, handshake and authentication (and a bastion's forward). */
  connectTimeoutMs: number;
  /** Keepalives detect a dead peer during a long, silent command. */
  keepaliveMs?: number;
  /** VMO_SSH_KEY_DIRS: identity files are read only from inside these. */
  keyDirs: string[];
  /** VMO_SSH_ALLOWED_TARGETS; null allows every target. */
  allowedTargets: TargetPolicy | null;
  /** Where the precise cause of a failed setup goes (never into the job). */
  log: Logger;
  /** Name resolution for VMO_SSH_ALLOWED_TARGETS checks (getaddrinfo unless a test stands in a resolver). */
  resolveName?: ResolveName;
}

/** A key file is a few KiB on a local disk: if it is not read by then, it never will be. */
const KEY_READ_DEADLINE_MS = 5_000;

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
 *
 * Every hop is checked against VMO_SSH_ALLOWED_TARGETS before the first one is dialled. `signal`
 * abandons the setup wherever it is (key read, lookup, connect, handshake, forward): everything
 * opened so far is closed and the promise rejects with the signal's reason at once.
 */
export async function openRoute(route: SshRoute, settings: SshSettings, signal?: AbortSignal): Promise<OpenConnection> {
  const chain: Client[] = [];
  const closeAll = () => {
    for (const c of [...chain].reverse()) c.end();
  };
  const hops = [...route.jumps, route.target];
  const vias = hops.map((_, i) => (i === 0 ? '' : ` via bastion ${hops[i - 1]!.label}`));
  try {
    const addresses: string[] = [];
    for (let i = 0; i < hops.length; i++) addresses.push(await abortable(planHop(hops[i]!, settings.allowedTargets, vias[i]!, settings.connectTimeoutMs, settings.resolveName), signal));
    let sock: Readable | undefined;
    let hostKey = '';
    let hostKeySource: OpenConnection['hostKeySource'] = 'pinned';
    for (let i = 0; i < hops.length; i++) {
      const hop = hops[i]!;
      const where = i < route.jumps.length ? `bastion ${hop.label}` : hop.label + (route.jumps.length ? ` via ${route.jumps.map((j) => j.label).join(' → ')}` : '');
      const client = new Client();
      chain.push(client);
      const { key, source } = await abortable(connectEndpoint(client, hop, { address: addresses[i]!, via: vias[i]!, where, sock }, settings, signal), signal);
      hostKey = key;
      hostKeySource = source;
      const next = hops[i + 1];
      if (next) sock = await abortable(forward(client, next, addresses[i + 1]!, vias[i + 1]!, settings.connectTimeoutMs), signal);
    }
    const client = chain[chain.length - 1]!;
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    // A bastion dropping takes the target with it; the target closing releases the bastions.
    for (const c of chain.slice(0, -1)) c.once('close', () => client.end());
    void closed.then(closeAll);
    return { client, hostKey, hostKeySource, closed, close: closeAll };
  } catch (err) {
    // Half-open connections go at once: end() would wait for a socket still connecting, or for a
    // peer that accepted TCP and never speaks.
    for (const c of [...chain].reverse()) c.destroy();
    if (err instanceof SshError && err.detail) settings.log.warn({ code: err.code, host: route.target.label, cause: err.detail }, `ssh connection setup failed: ${err.message}`);
    throw err;
  }
}

interface HopDial {
  /** What planHop chose to dial: the name, or the checked address. */
  address: string;
  via: string;
  /** For messages: the hop's label, and the bastions in front of the target. */
  where: string;
  /** The previous bastion's forwarded channel, if any. */
  sock: Readable | undefined;
}

type Verified = { key: string; source: OpenConnection['hostKeySource'] };

async function connectEndpoint(client: Client, endpoint: SshEndpoint, dial: HopDial, settings: SshSettings, signal: AbortSignal | undefined): Promise<Verified> {
  const check = await prepareHostKeyCheck(endpoint, settings);
  const keyPath = endpoint.identityFile ? expandLocalPath(endpoint.identityFile, endpoint) : undefined;
  const privateKey = keyPath ? await readIdentity(keyPath, dial.where, settings) : undefined;
  if (!privateKey && !settings.agentSocket) {
    throw new SshError('ssh_auth_failed', `no way to authenticate to ${dial.where}: the host has no identityFile and the worker has no SSH_AUTH_SOCK`);
  }
  // The route may have been abandoned while the key was read: a socket opened now would be nobody's.
  signal?.throwIfAborted();
  let verdictError: SshError | undefined;
  let presented = '';
  let source: OpenConnection['hostKeySource'] = 'pinned';
  const config: ConnectConfig = {
    host: dial.address,
    port: endpoint.port,
    username: endpoint.user,
    ...(dial.sock ? { sock: dial.sock } : {}),
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
          verdictError = new SshError('ssh_connect_failed', `cannot verify the host key of ${dial.where}: ${err.message}`);
          verify(false);
        },
      );
    },
  };
  return new Promise<Verified>((resolve, reject) => {
    let settled = false;
    // LOUD: the listener stays for the client's whole life. ssh2 may emit a second error while
    // tearing down (or later, a dropped connection); without a listener that crashes the worker.
    // After the handshake, a dropped connection surfaces as 'close', which the pool watches.
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.destroy();
      reject(verdictError ?? connectError(err, endpoint, dial.via));
    };
    client.on('error', fail);
    client.once('close', () => fail(new Error('connection closed before the SSH session was ready')));
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      resolve({ key: presented, source });
    });
    try {
      client.connect(config);
    } catch (err) {
      // ssh2 throws synchronously, before opening any socket, for a key it cannot parse or decrypt.
      const message = (err as Error).message;
      fail(keyPath && /privateKey|passphrase|private key/i.test(message) ? keyError(keyPath, dial.where, message) : (err as Error));
    }
  });
}

/** Ask `via` to open a TCP connection to `next` (at `address`, as planned) for the next hop. */
function forward(via: Client, next: SshEndpoint, address: string, viaText: string, timeoutMs: number): Promise<Readable> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(reachFailure(next, viaText, `the bastion did not answer the forward request within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      via.forwardOut('127.0.0.1', 0, address, next.port, (err: (Error & { reason?: number }) | undefined, stream: ClientChannel) => {
        clearTimeout(timer);
        if (settled) return void stream?.close();
        settled = true;
        if (!err) return resolve(stream);
        reject(reachFailure(next, viaText, `the bastion could not open ${address}:${next.port}: ${err.message} (reason ${err.reason ?? '?'})`));
      });
    } catch (err) {
      clearTimeout(timer);
      settled = true;
      reject(reachFailure(next, viaText, `the bastion connection went away: ${(err as Error).message}`));
    }
  });
}

async function readIdentity(path: string, where: string, settings: SshSettings): Promise<Buffer> {
  try {
    return await readIdentityFile(path, { dirs: settings.keyDirs, deadlineMs: Math.min(KEY_READ_DEADLINE_MS, settings.connectTimeoutMs) });
  } catch (err) {
    throw keyError(path, where, (err as Error).message);
  }
}

/**
 * LOUD: one message for every reason a key file is refused (missing, forbidden, not a regular
 * file, too big, unparsable, encrypted without the passphrase). The job's reader may be anyone
 * who can create hosts; telling those apart would let them probe the worker's filesystem. The
 * reason goes to the worker's log.
 */
function keyError(path: string, where: string, reason: string): SshError {
  return new SshError(
    'ssh_key_unusable',
    `identity file ${path} is not a readable key under VMO_SSH_KEY_DIRS (for ${where}; the worker's log says why)`,
    `identity file ${path}: ${reason}`,
  );
}

/** `p`, unless `signal` aborts first: then its reason, at once (p's outcome is then ignored). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  p.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
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
