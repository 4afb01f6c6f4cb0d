import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { agentUpgradeToken, chooseProtocol, streamUpgradeToken } from './upgrade-auth.ts';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const TOKEN = 'vmo_adm_0123456789abcdef0123456789abcdef';

describe('job stream upgrade (issue 8 #10: Kubernetes-style subprotocol auth)', () => {
  it('takes the Authorization header', () => {
    expect(streamUpgradeToken(req({ authorization: `Bearer ${TOKEN}` }))).toBe(TOKEN);
  });

  it('takes bearer.<token> offered with vmo.v1, in any order', () => {
    expect(streamUpgradeToken(req({ 'sec-websocket-protocol': `vmo.v1, bearer.${TOKEN}` }))).toBe(TOKEN);
    expect(streamUpgradeToken(req({ 'sec-websocket-protocol': `bearer.${TOKEN},vmo.v1` }))).toBe(TOKEN);
  });

  it('refuses bearer.<token> without vmo.v1 with a 400 that says what to offer, without the token', () => {
    let caught: any;
    try {
      streamUpgradeToken(req({ 'sec-websocket-protocol': `bearer.${TOKEN}` }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ status: 400, code: 'protocol_required' });
    expect(caught.message).toContain('vmo.v1');
    expect(caught.message).not.toContain(TOKEN);
  });

  it('has no token when none is given', () => {
    expect(streamUpgradeToken(req({}))).toBeUndefined();
    expect(streamUpgradeToken(req({ 'sec-websocket-protocol': 'vmo.v1' }))).toBeUndefined();
  });

  it('selects vmo.v1 and never a bearer subprotocol', () => {
    expect(chooseProtocol(new Set([`bearer.${TOKEN}`, 'vmo.v1']))).toBe('vmo.v1');
    expect(chooseProtocol(new Set([`bearer.${TOKEN}`]))).toBe(false);
    expect(chooseProtocol(new Set(['chat']))).toBe(false);
  });
});

describe('agent upgrade (PROTOCOL.md §1: the Authorization header only)', () => {
  it('takes the Authorization header', () => {
    expect(agentUpgradeToken(req({ authorization: 'Bearer vmo_agt_x', 'sec-websocket-protocol': 'vmo.v1' }))).toBe('vmo_agt_x');
  });

  it('refuses a token in a subprotocol with a 401 naming the header', () => {
    expect(() => agentUpgradeToken(req({ 'sec-websocket-protocol': 'vmo.v1, bearer.vmo_agt_x' }))).toThrow(/only in the Authorization header/);
    expect(() => agentUpgradeToken(req({}))).toThrow(expect.objectContaining({ status: 401 }));
  });
});
