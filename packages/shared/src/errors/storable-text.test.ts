import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { assertStorableText, findUnstorableText, storableString, storableText, unstorableReason } from './storable-text.ts';
import { AppError } from './app-error.ts';

describe('unstorableReason', () => {
  it.each([
    ['plain ASCII', 'hello'],
    ['an empty string', ''],
    ['accents and CJK', 'café 日本'],
    ['a surrogate pair (outside the BMP)', '😀'],
    ['U+FFFD itself', '\uFFFD'],
  ])('accepts %s', (_what, text) => expect(unstorableReason(text)).toBeUndefined());

  it.each([
    ['a NUL byte', 'a\0b', /NUL/],
    ['a lone high surrogate', 'a\ud800b', /unpaired surrogate/],
    ['a lone low surrogate', '\udc00', /unpaired surrogate/],
    ['a pair in the wrong order', '\ude00\ud83d', /unpaired surrogate/],
    ['a high surrogate at the end', 'x\ud83d', /unpaired surrogate/],
  ])('refuses %s', (_what, text, reason) => expect(unstorableReason(text)).toMatch(reason));
});

describe('storableText', () => {
  const schema = z.object({ a: storableText(z.string().max(5)), b: storableText(z.string(), 'values'), c: storableString().min(1) });
  it('keeps the checks of the schema it wraps and adds its own, prefixed by the subject', () => {
    expect(schema.safeParse({ a: 'ok', b: 'ok', c: 'ok' }).success).toBe(true);
    expect(schema.safeParse({ a: 'toolong', b: '', c: 'x' }).error?.issues[0]?.path).toEqual(['a']);
    expect(schema.safeParse({ a: '\0', b: '', c: 'x' }).error?.issues[0]?.message).toBe('must not contain NUL bytes');
    expect(schema.safeParse({ a: '', b: '\ud800', c: 'x' }).error?.issues[0]?.message).toMatch(/^values must be well-formed Unicode/);
    expect(schema.safeParse({ a: '', b: '', c: '' }).error?.issues[0]?.path).toEqual(['c']);
    expect(schema.safeParse({ a: '', b: '', c: '\0' }).error?.issues[0]?.path).toEqual(['c']);
  });
});

describe('findUnstorableText', () => {
  it('finds the first bad value or key with its path', () => {
    expect(findUnstorableText({ a: 'ok', b: [1, 'x', 'y\0'] })).toEqual({ path: 'b.2', reason: 'must not contain NUL bytes' });
    expect(findUnstorableText({ env: { 'K\ud800': 'v' } })?.path).toBe('env."K\\ud800"');
    expect(findUnstorableText({ a: 1, b: null, c: true, d: { e: ['😀'] } })).toBeUndefined();
  });

  it('throws a 400 naming the field, or the given place for a bare string', () => {
    expect(() => assertStorableText({ x: { y: '\0' } })).toThrow(expect.objectContaining({ status: 400, code: 'validation_failed', message: 'x.y: must not contain NUL bytes', details: { field: 'x.y' } }) as AppError);
    expect(() => assertStorableText('\0', 'query')).toThrow(/^query: /);
  });
});
