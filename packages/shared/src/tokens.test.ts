import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearerToken, generateToken, hashToken, sameHash, tokenKind } from './tokens.ts';

describe('tokens', () => {
  it('carry their kind in a prefix', () => {
    const admin = generateToken('admin');
    const agent = generateToken('agent');
    expect(admin).toMatch(/^vmo_adm_[A-Za-z0-9_-]{43}$/);
    expect(agent).toMatch(/^vmo_agt_[A-Za-z0-9_-]{43}$/);
    expect(tokenKind(admin)).toBe('admin');
    expect(tokenKind(agent)).toBe('agent');
    expect(generateToken('user')).toMatch(/^vmo_usr_[A-Za-z0-9_-]{43}$/);
    expect(tokenKind(generateToken('user'))).toBe('user');
    expect(tokenKind('ghp_something')).toBeUndefined();
    expect(tokenKind('')).toBeUndefined();
    expect(tokenKind('VMO_AGT_x')).toBeUndefined();
  });

  it('are never the same twice', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generateToken('agent')));
    expect(seen.size).toBe(1000);
  });

  it('are stored as their sha256 in hex', () => {
    const token = generateToken('admin');
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).not.toBe(hashToken(token + 'x'));
  });
});

describe('sameHash', () => {
  const a = hashToken('vmo_adm_one');
  const b = hashToken('vmo_adm_two');

  it('is true only for equal digests', () => {
    expect(sameHash(a, a)).toBe(true);
    expect(sameHash(a, a.toUpperCase())).toBe(true); // the same bytes
    expect(sameHash(a, b)).toBe(false);
    expect(sameHash(a, a.slice(0, -2) + (a.endsWith('00') ? '01' : '00'))).toBe(false);
  });

  it('is false, without throwing, for digests of different lengths or none at all', () => {
    expect(sameHash(a, a.slice(0, 62))).toBe(false);
    expect(sameHash(a.slice(0, 62), a)).toBe(false);
    expect(sameHash('', '')).toBe(false);
    expect(sameHash('zz', 'zz')).toBe(false); // not hex: decodes to nothing
  });
});

describe('bearerToken', () => {
  const token = generateToken('admin');

  it.each([
    [`Bearer ${token}`, token],
    [`bearer ${token}`, token],
    [`BEARER ${token}`, token],
    [`Bearer  ${token}`, token],
    ['Bearer abc.DEF-ghi_~+/==', 'abc.DEF-ghi_~+/=='],
  ])('reads %j', (header, expected) => expect(bearerToken(header)).toBe(expected));

  it.each([
    [undefined],
    [null],
    [''],
    ['Bearer'],
    ['Bearer '],
    [token],
    [`Basic ${Buffer.from('u:p').toString('base64')}`],
    [`Bearer ${token} extra`],
    [`Bearer tok en`],
    [`Bearer tok"en`],
    [`Bearer =abc`],
    [`Bearer${token}`],
  ])('refuses %j', (header) => expect(bearerToken(header)).toBeUndefined());
});
