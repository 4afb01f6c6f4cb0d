import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Server, type Connection } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '@vmo/testkit';
import { endsWithin } from './ends-within.ts';
import { cancel, SshTestBed } from './ssh-test-bed.ts';

/**
 * An SSH server that completes the handshake and authentication, then never answers the request
 * to open a session: the last step of setup before the command starts. A cancel (or timeout)
 * must still end the job at once, with nothing run.
 */
describe('ssh executor: a session that is never opened', () => {
  let bed: SshTestBed;
  let server: Server;
  let hostKey: string;
  const clients: Connection[] = [];
  let sessionRequested: () => void = () => {};

  beforeAll(async () => {
    bed = await SshTestBed.create('ssh_session_stall');
    const key = await generateKey(bed.dir, 'stalling_host_key');
    hostKey = key.publicKey;
    server = new Server({ hostKeys: [await readFile(key.privatePath)] }, (client) => {
      clients.push(client);
      client.on('error', () => {});
      client.on('authentication', (ctx) => ctx.accept());
      client.on('session', () => sessionRequested()); // neither accepted nor rejected
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  afterAll(async () => {
    for (const c of clients) c.end();
    server?.close();
    await bed?.close();
  });

  it('a cancel while the session open is unanswered ends the job at once, with nothing run', async () => {
    const pool = bed.pool();
    try {
      const host = await bed.addHost({ port: (server.address() as { port: number }).port, pinnedHostKeys: [hostKey] });
      const requested = new Promise<void>((resolve) => {
        sessionRequested = resolve;
      });
      const controller = new AbortController();
      const job = bed.runJob(pool, host.id, 'echo never', { stop: controller.signal });
      await endsWithin(30_000, 'the session request', requested);
      cancel(controller);
      const run = await endsWithin(10_000, 'the canceled job', job);
      // No error of its own: the recorded cancel becomes the status, as for any stop before start.
      expect(run.result).toEqual({ kind: 'exited', exitCode: null, signal: null, truncated: false });
      expect(run.stdout.length + run.stderr.length).toBe(0);
    } finally {
      await endsWithin(20_000, 'closing the pool', pool.close()).catch(() => {});
    }
  });
});
