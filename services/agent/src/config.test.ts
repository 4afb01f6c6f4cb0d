import { describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from './config.ts';

const token = 'vmo_agt_abc-DEF_123';

describe('agent config', () => {
  it('reads the environment with defaults', () => {
    expect(loadAgentConfig([], { VMO_SERVER: 'http://a:3121, https://b', VMO_AGENT_TOKEN: token })).toEqual({
      servers: ['http://a:3121', 'https://b'],
      token,
      labels: {},
      bufferBytes: 8 * 1024 * 1024,
      drainMs: 30_000,
      logLevel: 'info',
    });
  });

  it('lets flags override the environment', () => {
    const config = loadAgentConfig(
      ['--server', 'http://x', '--server', 'http://y,http://z', '--token', token, '--buffer-bytes', '262144', '--labels', 'zone=eu,gpu=yes'],
      { VMO_SERVER: 'http://ignored', VMO_AGENT_TOKEN: 'vmo_agt_other' },
    );
    expect(config).toMatchObject({ servers: ['http://x', 'http://y', 'http://z'], token, bufferBytes: 262144, labels: { zone: 'eu', gpu: 'yes' } });
  });

  it('stops with one line naming the variable or the flag', () => {
    expect(() => loadAgentConfig([], { VMO_AGENT_TOKEN: token })).toThrow(/^invalid configuration: VMO_SERVER: is required/);
    expect(() => loadAgentConfig(['--server', 'ftp://x'], { VMO_AGENT_TOKEN: token })).toThrow(/--server: must be a URL/);
    expect(() => loadAgentConfig([], { VMO_SERVER: 'http://x', VMO_AGENT_TOKEN: token, VMO_AGENT_BUFFER_BYTES: 'lots' })).toThrow(
      /VMO_AGENT_BUFFER_BYTES: must be a whole number/,
    );
    expect(() => loadAgentConfig(['--labels', 'nokey'], { VMO_SERVER: 'http://x', VMO_AGENT_TOKEN: token })).toThrow(/--labels: must be k=v/);
    expect(() => loadAgentConfig(['--bogus'], {})).toThrow(ConfigError);
  });

  it('refuses at start the labels the server would refuse in hello (else: 1008 and a reconnect loop)', () => {
    const env = { VMO_SERVER: 'http://x', VMO_AGENT_TOKEN: token };
    expect(() => loadAgentConfig(['--labels', 'a:b=1'], env)).toThrow(/^invalid configuration: --labels: /);
    const many = Array.from({ length: 65 }, (_, i) => `k${i}=v`).join(',');
    expect(() => loadAgentConfig(['--labels', many], env)).toThrow(/--labels: at most 64 labels/);
    expect(loadAgentConfig(['--labels', 'zone=eu/1,team.x=ops'], env)).toMatchObject({ labels: { zone: 'eu/1', 'team.x': 'ops' } });
  });

  it('never echoes a token in an error', () => {
    expect.assertions(2);
    expect(() => loadAgentConfig([], { VMO_SERVER: 'http://x', VMO_AGENT_TOKEN: 'vmo_adm_secret' })).toThrow(/VMO_AGENT_TOKEN: must be an agent token/);
    try {
      loadAgentConfig([], { VMO_SERVER: 'http://x', VMO_AGENT_TOKEN: 'vmo_adm_secret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });

  it('recognizes --help', () => {
    expect(loadAgentConfig(['--help'], {})).toBe('help');
  });
});
