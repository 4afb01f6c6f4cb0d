import type { Client } from 'ssh2';

export interface RemoteGroup {
  /** `pgid`: the job's process group (the normal case); `pid`: only the wrapper's pid was known. */
  kind: 'pgid' | 'pid';
  id: number;
}

const ATTEMPTS = 5;

/**
 * `kill -s SIG -- -PGID` on the host, over a session of its own (closing the job's session would
 * not stop the command). Retried briefly: the server may refuse a session while it is at
 * MaxSessions. Resolves false if it could not be delivered.
 */
export async function signalRemoteGroup(client: Client, group: RemoteGroup, signal: 'TERM' | 'KILL'): Promise<boolean> {
  const target = group.kind === 'pgid' ? `-${group.id}` : String(group.id);
  // Digits and letters only inside the quotes: safe for any login shell.
  const command = `exec /bin/sh -c 'kill -s ${signal} -- ${target} 2>/dev/null; exit 0'`;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const delivered = await new Promise<boolean>((resolve) => {
      try {
        client.exec(command, (err, channel) => {
          if (err) return resolve(false);
          channel.resume();
          channel.stderr.resume();
          channel.once('close', () => resolve(true));
        });
      } catch {
        resolve(false); // the connection is gone
      }
    });
    if (delivered) return true;
    await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
  }
  return false;
}
