/**
 * The provider contract (provider-contract.ts) against the `fake` provider, whose environments are
 * files that outlive a worker process (services/worker/src/workspaces/providers/fake.ts), and its
 * config: the schema templates are checked with and the keys the provider reads are one vocabulary.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '@vmo/shared/errors';
import { parseProviderConfig } from '@vmo/shared/workspaces';
import { fakeProvider } from '../../src/workspaces/providers/fake.ts';
import { FAKE_DIR, inspect, makeContext, makeProvider } from './fake-subject.ts';
import { providerContract } from './provider-contract.ts';

providerContract('fake', makeProvider, makeContext, { inspect, childModule: new URL('./fake-subject.ts', import.meta.url) });

describe('fake config', () => {
  const badField = (config: unknown): string | undefined => {
    try {
      parseProviderConfig('fake', config);
      return undefined;
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return (err as AppError).details?.field as string | undefined;
    }
  };

  it('accepts what the provider reads (dir, agent, script.converge_*) and refuses keys it would ignore', () => {
    expect(badField({ dir: FAKE_DIR, agent: false, script: { converge_running: { logs: ['a'] }, converge_stopped: { fail: 'x' }, converge_absent: { hangMs: 5 } } })).toBeUndefined();
    expect(() => parseProviderConfig('fake', { script: { start: { logs: ['booting'] } } })).toThrow('config.script: Unrecognized key: "start"');
    expect(badField({ script: { running: { logs: ['booting'] } } })).toBe('config.script');
    expect(badField({ dir: 'relative/dir' })).toBe('config.dir');
    expect(badField({ agent: 'yes' })).toBe('config.agent');
  });

  it('a converge_<desired> script is what runs for that converge', async () => {
    const lines: string[] = [];
    const config = parseProviderConfig('fake', { dir: FAKE_DIR, script: { converge_stopped: { logs: ['stopping now'], fail: 'stop refused' } } });
    const ctx = { ...(await makeContext({ workspaceId: 'wks_fakecfg1', state: null, signal: new AbortController().signal, slow: false, log: (l: string) => lines.push(l) })), config };
    await fakeProvider().converge(ctx, 'running');
    await expect(fakeProvider().converge(ctx, 'stopped')).rejects.toThrow('stop refused');
    expect(lines).toContain('stopping now');
    await fakeProvider().converge({ ...ctx, config: { dir: FAKE_DIR } }, 'absent');
  });
});

afterAll(() => rmSync(FAKE_DIR, { recursive: true, force: true }));
