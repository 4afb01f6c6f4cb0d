import { describe, expect, it } from 'vitest';
import { AgentToServer } from './agent-messages.ts';
import { PROTOCOL_VERSION } from './constants.ts';
import { canonicalHeartbeatRunning } from './heartbeat-fast-path.ts';

/** What the schema (the reference) makes of a text frame: `running` of a valid heartbeat, else undefined. */
function byTheSchema(frame: Buffer): number | undefined {
  let json: unknown;
  try {
    json = JSON.parse(frame.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = AgentToServer.safeParse(json);
  return r.success && r.data.type === 'heartbeat' ? r.data.running : undefined;
}

const corpus: string[] = [
  // The agents' own spelling (heartbeat.ts, the test kit's SimAgents, the bench's simulator).
  ...[0, 1, 7, 10, 99, 1234, 2 ** 31, 999_999_999_999_999].map((running) => JSON.stringify({ type: 'heartbeat', v: PROTOCOL_VERSION, running })),
  // Valid for the schema, in another spelling: the fast path leaves them to it.
  '{"v":1,"type":"heartbeat","running":3}',
  '{ "type":"heartbeat","v":1,"running":3}',
  '{"type":"heartbeat","v":1,"running":3 }',
  '{"type":"heartbeat","v":1,"running":3,"extra":true}',
  '{"type":"heartbeat","v":1,"running":3.0}',
  '{"type":"heartbeat","v":1,"running":3e0}',
  '{"type":"heartbeat","v":1,"running":1234567890123456}',
  // Not heartbeats the schema accepts.
  '{"type":"heartbeat","v":1,"running":-1}',
  '{"type":"heartbeat","v":1,"running":1.5}',
  '{"type":"heartbeat","v":1,"running":01}',
  '{"type":"heartbeat","v":1,"running":00}',
  '{"type":"heartbeat","v":1,"running":}',
  '{"type":"heartbeat","v":1,"running":"3"}',
  '{"type":"heartbeat","v":1,"running":null}',
  '{"type":"heartbeat","v":1,"running":3',
  '{"type":"heartbeat","v":1,"running":3}}',
  '{"type":"heartbeat","v":1,"running":3]',
  '{"type":"heartbeat","v":2,"running":3}',
  '{"type":"heartbeat","v":"1","running":3}',
  '{"type":"heartbeat","v":1}',
  '{"type":"heartbeat","v":1,"running":99999999999999999999}',
  '{"type":"heartbeaT","v":1,"running":3}',
  '{"type":"heartbeat","v":1,"running":1 2}',
  '{"type":"heartbeat","v":1,"running":0x1}',
  '{"type":"heartbeat","v":1,"running":Infinity}',
  '{"type":"hello","v":1,"running":3}',
  '{"type":"started","v":1,"jobId":"job_0123456789abcdefghij","attempt":1,"pid":1}',
  '',
  '}',
  'null',
  '[]',
  '{"type":"heartbeat","v":1,"running":',
];

describe('§5 the heartbeat fast path accepts only what the schema accepts', () => {
  it.each(corpus)('%s', (text) => {
    const frame = Buffer.from(text);
    const fast = canonicalHeartbeatRunning(frame);
    // Whatever the fast path takes, the schema takes too, with the same `running`.
    if (fast !== undefined) expect(byTheSchema(frame)).toBe(fast);
  });

  it("takes every heartbeat in the agents' own spelling (so the fast path is the path they take)", () => {
    for (const running of [0, 1, 42, 1_000_000]) {
      const frame = Buffer.from(JSON.stringify({ type: 'heartbeat', v: PROTOCOL_VERSION, running }));
      expect(canonicalHeartbeatRunning(frame)).toBe(running);
    }
  });

  it('leaves every other spelling to the full parse', () => {
    expect(canonicalHeartbeatRunning(Buffer.from('{"v":1,"type":"heartbeat","running":3}'))).toBeUndefined();
    expect(canonicalHeartbeatRunning(Buffer.from('{"type":"heartbeat","v":1,"running":01}'))).toBeUndefined();
    expect(canonicalHeartbeatRunning(Buffer.from('{"type":"heartbeat","v":1,"running":-1}'))).toBeUndefined();
  });

  it('agrees with the schema on random mutations of a heartbeat', () => {
    const base = '{"type":"heartbeat","v":1,"running":12}';
    const alphabet = '0123456789-.e{}[]":, aty';
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let i = 0; i < 5000; i++) {
      const chars = [...base];
      const at = rand(chars.length);
      const op = rand(3);
      if (op === 0) chars[at] = alphabet[rand(alphabet.length)]!;
      else if (op === 1) chars.splice(at, 1);
      else chars.splice(at, 0, alphabet[rand(alphabet.length)]!);
      const frame = Buffer.from(chars.join(''));
      const fast = canonicalHeartbeatRunning(frame);
      if (fast !== undefined) expect(byTheSchema(frame), chars.join('')).toBe(fast);
    }
  });
});
