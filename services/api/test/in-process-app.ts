import { pino } from 'pino';
import { commonSchema } from '@vmo/shared/config';
import { openControlPlane, type ControlPlane } from '@vmo/shared/control-plane';
import { generateToken } from '@vmo/shared/tokens';
import { createTestDatabase, createTestPrefix, TEST_REDIS_URL } from '@vmo/testkit';
import { createApp } from '../src/app.ts';
import { ensureAdminToken } from '../src/auth/admin-token.ts';
import { TokenStore } from '../src/auth/token-store.ts';

export interface InProcessApp {
  /** The API as a Hono app: call it with `app.request()`, no port. */
  app: ReturnType<typeof createApp>;
  cp: ControlPlane;
  /** An admin token the app accepts. */
  token: string;
  /** Closes the control plane, drops the database and deletes the Redis keys. */
  close(): Promise<void>;
}

/**
 * The API in this process on its own database and Redis prefix (both named after `label`), for
 * tests of routes that need no worker. Log with VMO_TEST_LOG=debug.
 */
export async function startInProcessApp(label: string): Promise<InProcessApp> {
  const testDb = await createTestDatabase(`test_${label}`);
  const prefix = createTestPrefix(label);
  let cp: Awaited<ReturnType<typeof openControlPlane>> | undefined;
  const close = async () => {
    await cp?.close();
    await testDb.drop();
    await prefix.cleanup();
  };
  try {
    const log = pino({ level: process.env.VMO_TEST_LOG ?? 'silent' });
    const config = commonSchema.parse({ VMO_DATABASE_URL: testDb.url, VMO_REDIS_URL: TEST_REDIS_URL, VMO_REDIS_PREFIX: prefix.prefix });
    cp = await openControlPlane(config, log, { dbPoolSize: 4 });
    const token = generateToken('admin');
    await ensureAdminToken(cp.database, token);
    return { app: createApp({ cp, tokens: new TokenStore(cp.database), log }), cp, token, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
