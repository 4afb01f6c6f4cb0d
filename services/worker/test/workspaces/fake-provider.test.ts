/**
 * The provider contract (provider-contract.ts) against the `fake` provider, whose environments are
 * files that outlive a worker process (services/worker/src/workspaces/providers/fake.ts).
 */
import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { FAKE_DIR, inspect, makeContext, makeProvider } from './fake-subject.ts';
import { providerContract } from './provider-contract.ts';

providerContract('fake', makeProvider, makeContext, { inspect, childModule: new URL('./fake-subject.ts', import.meta.url) });

afterAll(() => rmSync(FAKE_DIR, { recursive: true, force: true }));
