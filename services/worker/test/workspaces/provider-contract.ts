import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { newId } from '@vmo/shared/ids';
import type { DesiredState, ProviderContext, ProviderResult, WorkspaceProvider } from '@vmo/shared/workspaces';
import { waitFor } from '@vmo/testkit';

/**
 * The provider contract suite (issue 18), one `describe` a provider runs in its own test file:
 *
 *   providerContract('netns', makeProvider, makeContext, { inspect, childModule: new URL('./netns-subject.ts', import.meta.url) })
 *
 * What every provider must hold (packages/shared/src/workspaces/provider.ts):
 * - start twice gives one environment (also when the second start has lost the first's state);
 * - stop when stopped and destroy when gone succeed and leave things as they were;
 * - state passes from one operation to the next (it survives JSON, as it goes through jsonb);
 * - a start aborted midway (its signal) can be stopped and destroyed, leaving nothing;
 * - a start in a worker killed -9 midway, then run again by another process (with no state: the
 *   killed worker never stored it), leaves exactly one environment, which destroy removes.
 *
 * The provider decides what "one environment" is: `inspect(workspaceId)` counts them (containers,
 * namespaces, directories, …). `makeContext({slow: true})` must give a start that goes on for at
 * least ~5 s AFTER its environment exists (inspect counts it), so the abort and the kill land
 * midway. `childModule` exports `makeProvider` and `makeContext` (the same ones): the kill case
 * runs converge('running') in a child process (converge-child.ts) and SIGKILLs it.
 */

export interface ContractContextRequest {
  workspaceId: string;
  state: Record<string, unknown> | null;
  signal: AbortSignal;
  /** A start that lasts ≥ ~5 s once its environment exists (the abort and kill cases). */
  slow: boolean;
  log(line: string): void;
}
export type MakeContractContext = (req: ContractContextRequest) => ProviderContext | Promise<ProviderContext>;

export interface ContractOptions {
  /** How many environments the provider holds for this workspace (0 when gone). */
  inspect(workspaceId: string): Promise<number>;
  /** A module exporting `makeProvider` and `makeContext`, imported by the child process of the kill case. */
  childModule: URL;
  /** Deadline of one converge call (default 60 s: generous, never a timing assertion). */
  convergeTimeoutMs?: number;
}

const CHILD = fileURLToPath(new URL('./converge-child.ts', import.meta.url));

export function providerContract(name: string, makeProvider: () => WorkspaceProvider, makeContext: MakeContractContext, options: ContractOptions): void {
  const deadline = options.convergeTimeoutMs ?? 60_000;
  const made = new Set<string>();

  const newWorkspace = () => {
    const id = newId('wks');
    made.add(id);
    return id;
  };
  const ctxFor = async (workspaceId: string, state: Record<string, unknown> | null, opts: { slow?: boolean; signal?: AbortSignal; logs?: string[] } = {}) =>
    makeContext({ workspaceId, state, signal: opts.signal ?? new AbortController().signal, slow: opts.slow ?? false, log: (l) => opts.logs?.push(l) });
  /** converge, with its state passed through JSON (as jsonb would). */
  const converge = async (workspaceId: string, state: Record<string, unknown> | null, desired: DesiredState): Promise<ProviderResult> => {
    const result = await makeProvider().converge(await ctxFor(workspaceId, state), desired);
    return { ...result, state: result.state === null ? null : (JSON.parse(JSON.stringify(result.state)) as Record<string, unknown>) };
  };
  const status = async (workspaceId: string, state: Record<string, unknown> | null) => makeProvider().status(await ctxFor(workspaceId, state));

  describe(`provider contract: ${name}`, () => {
    afterAll(async () => {
      // Whatever a failed case left behind.
      for (const id of made) await converge(id, null, 'absent').catch(() => undefined);
    }, deadline * 2);

    it(
      'start twice gives one environment, also when the second start lost the state',
      async () => {
        const ws = newWorkspace();
        const first = await converge(ws, null, 'running');
        expect(first.state).not.toBeNull();
        const second = await converge(ws, first.state, 'running');
        expect(await options.inspect(ws)).toBe(1);
        await converge(ws, null, 'running');
        expect(await options.inspect(ws)).toBe(1);
        expect(await status(ws, second.state)).toBe('running');
        const gone = await converge(ws, second.state, 'absent');
        expect(gone.state).toBeNull();
        expect(await options.inspect(ws)).toBe(0);
      },
      deadline * 4,
    );

    it(
      'stop when stopped and destroy when gone succeed without doing anything',
      async () => {
        const ws = newWorkspace();
        // Never made: both are no-ops (a canceled create can always be stopped and destroyed).
        await converge(ws, null, 'stopped');
        expect(await options.inspect(ws)).toBe(0);
        expect((await converge(ws, null, 'absent')).state).toBeNull();
        expect(await options.inspect(ws)).toBe(0);
        expect(await status(ws, null)).toBe('not_found');

        const running = await converge(ws, null, 'running');
        const stopped = await converge(ws, running.state, 'stopped');
        const again = await converge(ws, stopped.state, 'stopped');
        expect(await options.inspect(ws)).toBe(1);
        expect(await status(ws, again.state)).toBe('stopped');
        expect((await converge(ws, again.state, 'absent')).state).toBeNull();
        expect((await converge(ws, null, 'absent')).state).toBeNull();
        expect(await options.inspect(ws)).toBe(0);
        expect(await status(ws, null)).toBe('not_found');
      },
      deadline * 7,
    );

    it(
      'state passes from one operation to the next',
      async () => {
        const ws = newWorkspace();
        const started = await converge(ws, null, 'running');
        expect(started.state).toEqual(expect.any(Object));
        expect(await status(ws, started.state)).toBe('running');
        const stopped = await converge(ws, started.state, 'stopped');
        expect(await status(ws, stopped.state)).toBe('stopped');
        const restarted = await converge(ws, stopped.state, 'running');
        expect(await status(ws, restarted.state)).toBe('running');
        expect(await options.inspect(ws)).toBe(1);
        const gone = await converge(ws, restarted.state, 'absent');
        expect(gone.state).toBeNull();
        expect(await options.inspect(ws)).toBe(0);
      },
      deadline * 4,
    );

    it(
      'a start aborted midway can be stopped and destroyed, leaving nothing',
      async () => {
        const ws = newWorkspace();
        const abort = new AbortController();
        const start = makeProvider().converge(await ctxFor(ws, null, { slow: true, signal: abort.signal }), 'running');
        const settled = start.then(
          () => 'resolved',
          () => 'rejected',
        );
        await waitFor('the slow start to make its environment', async () => (await options.inspect(ws)) >= 1 || undefined, deadline);
        abort.abort(new Error('canceled by the contract test'));
        // Promptly: well before the slow start would have ended on its own.
        await waitFor('the aborted start to return', () => Promise.race([settled, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]), 4_000);
        // The aborted start's state was never returned: stop and destroy find it from the id.
        await converge(ws, null, 'stopped');
        await converge(ws, null, 'absent');
        expect(await options.inspect(ws)).toBe(0);
      },
      deadline * 3,
    );

    it(
      'a start in a worker killed -9 midway, run again elsewhere, leaves exactly one environment',
      async () => {
        const ws = newWorkspace();
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD, options.childModule.href, ws, 'running', 'slow'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        try {
          await waitFor('the child start to make its environment', async () => {
            if (child.exitCode !== null) throw new Error(`the child ended before its environment existed: ${out.slice(-2000)}`);
            return (await options.inspect(ws)) >= 1 || undefined;
          }, deadline);
          expect(child.exitCode).toBeNull(); // still midway
        } finally {
          child.kill('SIGKILL');
          await exited;
        }
        // Another worker takes the operation over: it has no state (the killed one never stored it).
        const retried = await converge(ws, null, 'running');
        expect(await options.inspect(ws)).toBe(1);
        expect(await status(ws, retried.state)).toBe('running');
        await converge(ws, retried.state, 'absent');
        expect(await options.inspect(ws)).toBe(0);
      },
      deadline * 4,
    );
  });
}
