import { createServer } from 'node:net';
import pino from 'pino';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { postgresErrors } from '@vmo/shared/metrics';
import { retryUntilDone } from './retry-until-done.ts';

const errorsOf = async (kind: string) => (await postgresErrors.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;

/** A port nothing listens on: a Postgres that is down. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('retryUntilDone counts every failed try in vmo_postgres_errors_total', () => {
  it('a write refused by a Postgres that is down is counted (connection), then retried until it lands', async () => {
    const down = postgres({ host: '127.0.0.1', port: await deadPort(), user: 'postgres', connect_timeout: 5, max: 1 });
    const up = postgres({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres', max: 1 });
    try {
      const before = await errorsOf('connection');
      let tries = 0;
      const answer = await retryUntilDone('a test write', pino({ level: 'silent' }), async () => {
        tries++;
        const sql = tries === 1 ? down : up;
        const [row] = await sql<{ one: number }[]>`select 1 as one`;
        return row!.one;
      });
      expect(answer).toBe(1);
      expect(tries).toBe(2);
      expect(await errorsOf('connection')).toBe(before + 1);
    } finally {
      await down.end({ timeout: 1 });
      await up.end({ timeout: 1 });
    }
  });
});
