import { describe, expect, it } from 'vitest';
import { showTypedInput } from './typed-input.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('showTypedInput', () => {
  it('shows Enter as ⏎ ending the line, control keys in caret notation, text as typed', () => {
    expect(showTypedInput(bytes('echo $((6*7))\rexit 3\r'))).toBe('echo $((6*7))⏎\nexit 3⏎\n');
    expect(showTypedInput(bytes('sleep 30\r\x03\x1b[A\x7f\tx'))).toBe('sleep 30⏎\n^C^[[A^?⇥x');
    expect(showTypedInput(bytes('héllo'))).toBe('héllo');
  });
});
