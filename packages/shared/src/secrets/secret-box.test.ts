import { describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from './secret-box.ts';

const KEY = '3f9a1c7e5b2d4f608e1a3c5b7d9f2e4a6c8b0d1f3e5a7c9b2d4f6e8a0c1b3d5f';
const OTHER = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const box = SecretBox.fromHex(KEY);
const plaintext = Buffer.from('{"TOKEN":"hunter2-but-longer"}');

const failure = (f: () => unknown): SecretBoxError => {
  try {
    f();
  } catch (err) {
    if (err instanceof SecretBoxError) return err;
    throw err;
  }
  throw new Error('it opened');
};

describe('SecretBox (AES-256-GCM)', () => {
  it('opens what it sealed, for the same context', () => {
    const sealed = box.seal(plaintext, 'job_a');
    expect(box.open(sealed, 'job_a').equals(plaintext)).toBe(true);
    expect(SecretBox.fromHex(KEY.toUpperCase()).open(sealed, 'job_a').equals(plaintext)).toBe(true);
  });

  it('never stores the plaintext, and two seals of the same value differ (random IV)', () => {
    const a = box.seal(plaintext, 'job_a');
    const b = box.seal(plaintext, 'job_a');
    expect(a.equals(b)).toBe(false);
    expect(a.includes(plaintext)).toBe(false);
    expect(a.includes(Buffer.from('hunter2'))).toBe(false);
    expect(a.length).toBe(1 + 8 + 12 + plaintext.length + 16);
  });

  it('refuses another context: a sealed value copied onto another job does not open', () => {
    expect(failure(() => box.open(box.seal(plaintext, 'job_a'), 'job_b')).reason).toBe('not_authentic');
  });

  it('refuses another key, naming both by id only', () => {
    const err = failure(() => SecretBox.fromHex(OTHER).open(box.seal(plaintext, 'job_a'), 'job_a'));
    expect(err.reason).toBe('other_key');
    expect(err.message).toContain(box.keyId);
    expect(err.message).not.toContain(KEY);
    expect(err.message).not.toContain(KEY.slice(0, 16));
  });

  it('refuses any altered byte, a truncation and an unknown version', () => {
    const sealed = box.seal(plaintext, 'job_a');
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 0x01;
      expect(() => box.open(bad, 'job_a'), `byte ${i}`).toThrow(SecretBoxError);
    }
    expect(failure(() => box.open(sealed.subarray(0, sealed.length - 1), 'job_a')).reason).toBe('not_authentic');
    expect(failure(() => box.open(sealed.subarray(0, 20), 'job_a')).reason).toBe('unknown_format');
  });

  it('the key id and the digest are derived: stable per key, different across keys, not the key', () => {
    expect(box.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(SecretBox.fromHex(KEY).keyId).toBe(box.keyId);
    expect(SecretBox.fromHex(OTHER).keyId).not.toBe(box.keyId);
    expect(KEY).not.toContain(box.keyId);
    expect(box.digest('v', 'c')).toBe(SecretBox.fromHex(KEY).digest('v', 'c'));
    expect(box.digest('v', 'c')).not.toBe(SecretBox.fromHex(OTHER).digest('v', 'c'));
    expect(box.digest('v', 'c')).not.toBe(box.digest('v', 'd'));
  });

  it('refuses a key that is not 32 bytes of hex', () => {
    expect(() => SecretBox.fromHex(KEY.slice(2))).toThrow(/64 hexadecimal/);
    expect(() => SecretBox.fromHex(`${KEY.slice(2)}zz`)).toThrow(/64 hexadecimal/);
  });
});
