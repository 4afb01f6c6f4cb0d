import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@vmo/testkit';
import type { ProviderContext } from '@vmo/shared/workspaces';
import { createCommandProvider } from '../../src/workspaces/providers/command.ts';
import * as commandSubject from './command-subject.ts';
import { providerContract } from './provider-contract.ts';

/**
 * The command provider against scripts that keep a "machine" as files in a temp dir: $STATE/<id>/state
 * holds running|stopped (absent = NotFound), and every command appends its name to $STATE/<id>/calls,
 * so idempotency is counted, not assumed.
 */
const TOKEN = 'vmo_agt_commandprovidertesttoken0123456789';

const machine = 'm="$STATE/$WORKSPACE_ID"';
const baseConfig = (state: string, over: Record<string, string> = {}) => ({
  create: `${machine}; mkdir -p "$m"; echo create >> "$m/calls"; env > "$m/env.create"; echo stopped > "$m/state"`,
  start: `${machine}; echo start >> "$m/calls"; env > "$m/env.start"; echo "starting with token=$VMO_AGENT_TOKEN"; echo running > "$m/state"`,
  stop: `${machine}; echo stop >> "$m/calls"; env > "$m/env.stop"; echo stopped > "$m/state"`,
  delete: `${machine}; echo delete >> "$STATE/deleted-$WORKSPACE_ID"; rm -r "$m"`,
  status: `${machine}; if [ -f "$m/state" ]; then case $(cat "$m/state") in running) echo Running;; stopped) echo Stopped;; busy*) n=$(cat "$m/state"); echo Busy; [ "$n" = busy1 ] && echo running > "$m/state" || echo busy1 > "$m/state";; esac; else echo NotFound; fi`,
  env: { STATE: state },
  statusPollMs: 50,
  ...over,
});

describe('command provider (DevPod contract) against file-backed scripts', () => {
  let state: string;
  const logs: string[] = [];
  const provider = createCommandProvider();
  let n = 0;
  const newId = () => `wks_cmd${++n}`;

  const ctx = (workspaceId: string, config: Record<string, unknown>, signal = new AbortController().signal): ProviderContext => ({
    workspaceId,
    workspaceName: `ws-${workspaceId}`,
    config,
    params: { region: 'eu-west', 'disk-size': '20' },
    state: null,
    agent: { url: 'http://10.0.0.1:3121', token: TOKEN, name: `agent-${workspaceId}`, labels: {} },
    log: (line) => logs.push(line),
    signal,
  });
  const calls = (id: string) => (existsSync(join(state, id, 'calls')) ? readFileSync(join(state, id, 'calls'), 'utf8').trim().split('\n') : []);
  const envOf = (id: string, cmd: string) => Object.fromEntries(readFileSync(join(state, id, `env.${cmd}`), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

  beforeAll(() => {
    state = mkdtempSync(join(tmpdir(), 'vmo-command-provider-'));
    process.env.VMO_SECRET_OF_THE_WORKER = 'must-not-reach-scripts';
    process.env.PGPASSWORD = 'must-not-reach-scripts';
    process.env.AWS_SECRET_ACCESS_KEY = 'must-not-reach-scripts';
    process.env.LC_TIME = 'C';
  });
  afterAll(() => {
    delete process.env.VMO_SECRET_OF_THE_WORKER;
    delete process.env.PGPASSWORD;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    delete process.env.LC_TIME;
    rmSync(state, { recursive: true, force: true });
  });

  it('running from NotFound: create, then start (create left it stopped); running again does nothing', async () => {
    const id = newId();
    const config = baseConfig(state);
    expect(await provider.status(ctx(id, config))).toBe('not_found');
    expect(await provider.converge(ctx(id, config), 'running')).toEqual({ state: { observed: 'running' } });
    expect(calls(id)).toEqual(['create', 'start']);
    await provider.converge(ctx(id, config), 'running');
    expect(calls(id)).toEqual(['create', 'start']);
    expect(await provider.status(ctx(id, config))).toBe('running');
  });

  it('passes the contract environment: ids, params, the agent only to create and start, the template env; of the worker\'s only PATH, HOME, LC_* and such', async () => {
    const id = newId();
    const config = baseConfig(state);
    await provider.converge(ctx(id, config), 'running');
    await provider.converge(ctx(id, config), 'stopped');
    const create = envOf(id, 'create');
    expect(create).toMatchObject({ WORKSPACE_ID: id, WORKSPACE_NAME: `ws-${id}`, VMO_PARAM_REGION: 'eu-west', VMO_PARAM_DISK_SIZE: '20', VMO_AGENT_URL: 'http://10.0.0.1:3121', VMO_AGENT_TOKEN: TOKEN, VMO_AGENT_NAME: `agent-${id}`, STATE: state });
    expect(envOf(id, 'start')).toMatchObject({ VMO_AGENT_TOKEN: TOKEN });
    const stop = envOf(id, 'stop');
    expect(stop).toMatchObject({ WORKSPACE_ID: id, VMO_PARAM_REGION: 'eu-west' });
    expect(stop).not.toHaveProperty('VMO_AGENT_TOKEN');
    expect(stop).not.toHaveProperty('VMO_AGENT_URL');
    expect(create).not.toHaveProperty('VMO_SECRET_OF_THE_WORKER');
    expect(create).not.toHaveProperty('PGPASSWORD');
    expect(create).not.toHaveProperty('AWS_SECRET_ACCESS_KEY');
    expect(create).toMatchObject({ PATH: process.env.PATH, LC_TIME: 'C' });
  });

  it('masks the agent token in log lines', async () => {
    const id = newId();
    logs.length = 0;
    await provider.converge(ctx(id, baseConfig(state)), 'running');
    expect(logs).toContain('starting with token=***');
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
  });

  it('a create that leaves the machine running is not started again', async () => {
    const id = newId();
    const config = baseConfig(state, { create: `${machine}; mkdir -p "$m"; echo create >> "$m/calls"; echo running > "$m/state"` });
    await provider.converge(ctx(id, config), 'running');
    expect(calls(id)).toEqual(['create']);
  });

  it('stopped twice stops once; absent deletes once; absent when gone and stopped when gone do nothing', async () => {
    const id = newId();
    const config = baseConfig(state);
    await provider.converge(ctx(id, config), 'running');
    await provider.converge(ctx(id, config), 'stopped');
    await provider.converge(ctx(id, config), 'stopped');
    expect(calls(id)).toEqual(['create', 'start', 'stop']);
    expect(await provider.status(ctx(id, config))).toBe('stopped');
    expect(await provider.converge(ctx(id, config), 'absent')).toEqual({ state: null });
    expect(await provider.converge(ctx(id, config), 'absent')).toEqual({ state: null });
    await provider.converge(ctx(id, config), 'stopped');
    expect(readFileSync(join(state, `deleted-${id}`), 'utf8')).toBe('delete\n');
    expect(await provider.status(ctx(id, config))).toBe('not_found');
  });

  it('waits while status says Busy, then goes on', async () => {
    const id = newId();
    const config = baseConfig(state, { start: `${machine}; echo start >> "$m/calls"; echo busy0 > "$m/state"` });
    await provider.converge(ctx(id, config), 'running');
    expect(calls(id)).toEqual(['create', 'start']);
    expect(await provider.status(ctx(id, config))).toBe('running');
  });

  it('a failing command fails the converge with its last stderr lines (token masked)', async () => {
    const id = newId();
    const config = baseConfig(state, { create: `echo "quota exceeded for $VMO_AGENT_TOKEN" >&2; echo second line >&2; exit 3` });
    const err = await provider.converge(ctx(id, config), 'running').then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/create failed \(exit 3\): quota exceeded for \*\*\*\nsecond line/);
    expect(err?.message).not.toContain(TOKEN);
  });

  it('a status that prints anything else is an error; a start that does not start is not retried forever', async () => {
    const id = newId();
    await expect(provider.status(ctx(id, baseConfig(state, { status: 'echo Maybe' })))).rejects.toThrow(/status printed "Maybe"/);
    const stuck = baseConfig(state, { status: 'echo Stopped', start: 'true' });
    await expect(provider.converge(ctx(id, stuck), 'running')).rejects.toThrow(/still says stopped after start/);
  });

  it('cancelling kills the command’s whole process group', async () => {
    const id = newId();
    const marker = join(state, `${id}.pid`);
    const config = baseConfig(state, { create: `sleep 300 & echo $! > "${marker}"; wait` });
    const abort = new AbortController();
    const converging = provider.converge(ctx(id, config, abort.signal), 'running');
    const pid = await waitFor('the script’s child started', () => (existsSync(marker) && readFileSync(marker, 'utf8').trim()) || undefined, 20_000);
    abort.abort(new Error('operation canceled'));
    await expect(converging).rejects.toThrow(/operation canceled/);
    await waitFor('the sleep killed', () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z') || undefined, 20_000);
  });

  it('timeoutMs bounds each command', async () => {
    const id = newId();
    const config = baseConfig(state, { create: 'sleep 300' , timeoutMs: 300 } as never);
    await expect(provider.converge(ctx(id, config), 'running')).rejects.toThrow(/create timed out after 300 ms/);
  });
});

providerContract('command', commandSubject.makeProvider, commandSubject.makeContext, { inspect: commandSubject.inspect, childModule: new URL('./command-subject.ts', import.meta.url) });
afterAll(() => rmSync(commandSubject.COMMAND_DIR, { recursive: true, force: true }));
