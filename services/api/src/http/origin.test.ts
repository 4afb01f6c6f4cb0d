import { describe, expect, it } from 'vitest';
import { tryParseEnv } from '@vmo/shared/config';
import { apiEnv } from '../env.ts';
import { OriginPolicy } from './origin.ts';

const allowedOrigins = (value: string | undefined) => tryParseEnv(apiEnv, value === undefined ? {} : { VMO_ALLOWED_ORIGINS: value }).VMO_ALLOWED_ORIGINS;

describe('OriginPolicy (issue 11 §Hardening: a hostile Origin cannot open a stream)', () => {
  const policy = new OriginPolicy(allowedOrigins('https://console.example.com, http://localhost:5173'));

  it('lets a request without Origin through: the CLI, curl and agents send none, and the attack needs a browser', () => {
    expect(policy.refusal(undefined, 'vmo.example.com')).toBeUndefined();
  });

  it.each([
    ['a listed origin', 'https://console.example.com', 'vmo.example.com'],
    ['a listed origin written in capitals', 'HTTPS://Console.Example.COM', 'vmo.example.com'],
    ['a listed origin with its port', 'http://localhost:5173', 'vmo.example.com'],
    ['the API itself (same host and port)', 'http://127.0.0.1:3121', '127.0.0.1:3121'],
    ['the API itself behind TLS (default port left out of Host)', 'https://vmo.example.com', 'vmo.example.com'],
    ['the API itself behind TLS (default port written in Host)', 'https://vmo.example.com', 'vmo.example.com:443'],
    ['the API itself, Host in capitals', 'https://vmo.example.com', 'VMO.example.com'],
    ['the API itself on IPv6', 'http://[::1]:3121', '[::1]:3121'],
  ])('allows %s', (_what, origin, host) => {
    expect(policy.refusal(origin, host)).toBeUndefined();
  });

  it.each([
    ['another site', 'https://evil.example', 'vmo.example.com'],
    ['a listed host on another port', 'https://console.example.com:8443', 'vmo.example.com'],
    ['a listed host with another scheme', 'http://console.example.com', 'vmo.example.com'],
    ['a subdomain of a listed origin', 'https://a.console.example.com', 'vmo.example.com'],
    ['the API host on another port', 'http://127.0.0.1:9999', '127.0.0.1:3121'],
    ['the API host on a default port when Host has another', 'https://vmo.example.com', 'vmo.example.com:8443'],
    ['an opaque origin (sandboxed frame, file://)', 'null', 'vmo.example.com'],
    ['a non-web scheme', 'file:///etc/passwd', 'vmo.example.com'],
    ['garbage', '::::', 'vmo.example.com'],
    ['an Origin with no Host to compare with', 'http://127.0.0.1:3121', undefined],
    ['a Host made to look like the Origin', 'http://evil.example', 'evil.example/@127.0.0.1'],
  ])('refuses %s with 403 forbidden, never quoting the Origin', (_what, origin, host) => {
    const refusal = policy.refusal(origin, host);
    expect(refusal).toMatchObject({ status: 403, code: 'forbidden' });
    expect(refusal!.message).toMatch(/Origin is not allowed/);
    expect(refusal!.message).not.toContain(origin);
  });

  it('with no list, allows only the API\'s own origin', () => {
    const own = new OriginPolicy(allowedOrigins(undefined));
    expect(own.refusal('https://vmo.example.com', 'vmo.example.com')).toBeUndefined();
    expect(own.refusal('https://console.example.com', 'vmo.example.com')).toMatchObject({ status: 403 });
  });
});

describe('VMO_ALLOWED_ORIGINS', () => {
  it('defaults to none (same origin only) and normalises what it is given', () => {
    expect(allowedOrigins(undefined)).toEqual([]);
    expect(allowedOrigins('')).toEqual([]);
    expect(allowedOrigins(' HTTPS://Vmo.Example.com:443/ ,http://localhost:5173,')).toEqual(['https://vmo.example.com', 'http://localhost:5173']);
  });

  it.each([
    ['vmo.example.com'],
    ['https://vmo.example.com/app'],
    ['https://vmo.example.com?x=1'],
    ['https://user@vmo.example.com'],
    ['ftp://vmo.example.com'],
    ['*'],
  ])('refuses %j with one line naming the variable and the entry', (value) => {
    expect(() => allowedOrigins(`https://ok.example,${value}`)).toThrow(new RegExp(`^VMO_ALLOWED_ORIGINS: ${JSON.stringify(value).replace(/[.*?/]/g, '\\$&')} is not an origin: write scheme://host\\[:port\\]`));
  });
});
