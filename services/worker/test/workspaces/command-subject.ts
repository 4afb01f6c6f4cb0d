/**
 * The command provider as the contract suite's subject (command-provider.test.ts), also imported by
 * the kill case's child process (converge-child.ts): the machines are directories under one temp
 * dir, fixed once in the environment, which the child inherits. One environment = one machine dir.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandProvider } from '../../src/workspaces/providers/command.ts';
import type { MakeContractContext } from './provider-contract.ts';

process.env.COMMAND_CONTRACT_DIR ??= mkdtempSync(join(tmpdir(), 'vmo-command-contract-'));
export const COMMAND_DIR = process.env.COMMAND_CONTRACT_DIR;

const m = 'm="$STATE/$WORKSPACE_ID"';
const script = (slow: boolean) => ({
  // slow: create makes the machine, then goes on 8 s (past the suite's ~5 s; an orphan of the killed child ends soon after) (the abort and the kill land in it).
  create: `${m}; mkdir -p "$m"; echo stopped > "$m/state"${slow ? '; sleep 8' : ''}`,
  start: `${m}; echo running > "$m/state"`,
  stop: `${m}; echo stopped > "$m/state"`,
  delete: `${m}; rm -r "$m"`,
  status: `${m}; if [ -f "$m/state" ]; then case $(cat "$m/state") in running) echo Running;; *) echo Stopped;; esac; else echo NotFound; fi`,
  env: { STATE: COMMAND_DIR },
});

export const makeProvider = createCommandProvider;

export const makeContext: MakeContractContext = ({ workspaceId, state, signal, slow, log }) => ({
  workspaceId,
  workspaceName: workspaceId,
  config: script(slow),
  params: {},
  state,
  agent: { url: 'http://127.0.0.1:9', token: 'vmo_agt_contract', name: workspaceId, labels: {} },
  log,
  signal,
});

export const inspect = async (workspaceId: string): Promise<number> => (existsSync(join(COMMAND_DIR, workspaceId)) ? 1 : 0);
