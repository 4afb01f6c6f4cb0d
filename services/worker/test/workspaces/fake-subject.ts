/**
 * The fake provider as the contract suite's subject (fake-provider.test.ts), also imported by the
 * kill case's child process (converge-child.ts): both must see the same directory, so it is fixed
 * once in the environment, which the child inherits.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeEnvironments, fakeProvider } from '../../src/workspaces/providers/fake.ts';
import type { MakeContractContext } from './provider-contract.ts';

process.env.VMO_FAKE_CONTRACT_DIR ??= mkdtempSync(join(tmpdir(), 'vmo-fake-contract-'));
export const FAKE_DIR = process.env.VMO_FAKE_CONTRACT_DIR;

export const makeProvider = fakeProvider;

export const makeContext: MakeContractContext = ({ workspaceId, state, signal, slow, log }) => ({
  workspaceId,
  workspaceName: workspaceId,
  // slow: the start hangs 30 s after making its environment (the abort and the kill land in it).
  config: { dir: FAKE_DIR, ...(slow ? { script: { converge_running: { logs: ['slow start'], hangMs: 30_000 } } } : {}) },
  params: {},
  state,
  log,
  signal,
});

export const inspect = async (workspaceId: string): Promise<number> => (await fakeEnvironments({ dir: FAKE_DIR }, workspaceId)).length;
