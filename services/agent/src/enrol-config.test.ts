import { describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from './config.ts';

const enrolToken = 'vmo_enr_abc-DEF_123456789';
const token = 'vmo_agt_abc-DEF_123';
const server = ['--server', 'http://x'];
const quiet = () => {};

describe('agent config: enrolment (PROTOCOL.md §8)', () => {
  it('--state-dir with --enrol and --name', () => {
    expect(loadAgentConfig([...server, '--state-dir', '/var/lib/vmo-agent', '--enrol', enrolToken, '--name', 'web-1'], {}, quiet)).toMatchObject({
      stateDir: '/var/lib/vmo-agent',
      enrolToken,
      name: 'web-1',
    });
  });

  it('the same from the environment; --state-dir alone (enrolled already) needs no token', () => {
    expect(loadAgentConfig([], { VMO_SERVER: 'http://x', VMO_AGENT_STATE_DIR: '/s', VMO_AGENT_ENROL_TOKEN: enrolToken, VMO_AGENT_NAME: 'n-1' }, quiet)).toMatchObject({
      stateDir: '/s',
      enrolToken,
      name: 'n-1',
    });
    const config = loadAgentConfig([...server, '--state-dir', '/s'], {}, quiet);
    expect(config).toMatchObject({ stateDir: '/s' });
    expect(config).not.toHaveProperty('token');
    expect(config).not.toHaveProperty('enrolToken');
  });

  it('--enrol warns that it is visible in ps, without repeating it', () => {
    const lines: string[] = [];
    loadAgentConfig([...server, '--state-dir', '/s', '--enrol', enrolToken], {}, (l) => lines.push(l));
    expect(lines).toEqual(['--enrol puts the enrolment token on the command line, where every user of this machine can read it (ps); use --enrol-file or VMO_AGENT_ENROL_TOKEN_FILE']);
  });

  it.each([
    ['--enrol without --state-dir', [...server, '--enrol', enrolToken], {}, /^invalid configuration: --enrol needs --state-dir DIR \(or VMO_AGENT_STATE_DIR\), where the agent keeps the token it is given$/],
    ['VMO_AGENT_ENROL_TOKEN without a state dir', server, { VMO_AGENT_ENROL_TOKEN: enrolToken }, /^invalid configuration: VMO_AGENT_ENROL_TOKEN needs --state-dir DIR/],
    ['--name without --state-dir', [...server, '--token', token, '--name', 'x'], {}, /^invalid configuration: --name is the name to enrol under: it needs --state-dir DIR and --enrol-file FILE$/],
    ['--state-dir with --token', [...server, '--state-dir', '/s', '--token', token], {}, /^invalid configuration: --state-dir keeps the agent's token in \/s\/agent\.token; give it or --token, not both$/],
    ['--state-dir with VMO_AGENT_TOKEN', [...server, '--state-dir', '/s'], { VMO_AGENT_TOKEN: token }, /^invalid configuration: --state-dir keeps .*; give it or VMO_AGENT_TOKEN, not both$/],
    ['--enrol and --enrol-file', [...server, '--state-dir', '/s', '--enrol', enrolToken, '--enrol-file', 'f'], {}, /^invalid configuration: --enrol and --enrol-file are both given; use --enrol-file$/],
    ['an agent token as --enrol', [...server, '--state-dir', '/s', '--enrol', token], {}, /^invalid configuration: --enrol: must be an enrolment token \(vmo_enr_…, from POST \/v1\/enrolment-tokens\)$/],
    ['a --name with a space', [...server, '--state-dir', '/s', '--enrol', enrolToken, '--name', 'my host'], {}, /^invalid configuration: --name: must be 1-63 letters, digits, "_", "\." or "-", starting with a letter or digit \(got "my host"\)$/],
    ['an empty --state-dir', [...server, '--state-dir', ''], {}, /^invalid configuration: --state-dir: must be a directory path/],
    ['no credential at all', server, {}, /^invalid configuration: VMO_AGENT_TOKEN: is required: give --token-file FILE \(or VMO_AGENT_TOKEN_FILE\), or --state-dir DIR with --enrol-file FILE to enrol$/],
  ])('refuses %s with one line', (_what, argv, env, message) => {
    expect(() => loadAgentConfig(argv, env, quiet)).toThrow(ConfigError);
    expect(() => loadAgentConfig(argv, env, quiet)).toThrow(message);
  });

  it('never echoes an enrolment token, not even a malformed one', () => {
    const almost = 'vmo_enx_secret-value-0123456789';
    try {
      loadAgentConfig([...server, '--state-dir', '/s', '--enrol', almost], {}, quiet);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-value');
    }
  });
});
