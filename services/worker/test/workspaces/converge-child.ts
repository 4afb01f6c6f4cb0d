/**
 * A worker stand-in for the provider contract's kill case (provider-contract.ts): runs one
 * converge in its own process, so the test can SIGKILL it midway.
 *
 *   node --import tsx converge-child.ts <subject module URL> <workspaceId> <running|stopped|absent> [slow]
 *
 * The subject module exports `makeProvider()` and `makeContext(req)` as given to providerContract.
 * Log lines go to stdout; exit 0 when converge returns, 1 when it throws.
 */
import type { DesiredState, WorkspaceProvider } from '@vmo/shared/workspaces';
import type { MakeContractContext } from './provider-contract.ts';

const [moduleUrl, workspaceId, desired, slow] = process.argv.slice(2);
if (!moduleUrl || !workspaceId || !desired) {
  console.error('usage: converge-child.ts <module> <workspaceId> <desired> [slow]');
  process.exit(2);
}
const subject = (await import(moduleUrl)) as { makeProvider: () => WorkspaceProvider; makeContext: MakeContractContext };
const ctx = await subject.makeContext({ workspaceId, state: null, signal: new AbortController().signal, slow: slow === 'slow', log: (l) => console.log(`log: ${l}`) });
try {
  const result = await subject.makeProvider().converge(ctx, desired as DesiredState);
  console.log(`result: ${JSON.stringify(result.state)}`);
  process.exit(0);
} catch (err) {
  console.log(`error: ${(err as Error).message}`);
  process.exit(1);
}
