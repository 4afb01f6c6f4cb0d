import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellQuote } from './shell-quote.ts';

describe('shellQuote', () => {
  it('every word comes back from a real sh as one argument, byte for byte, nothing run', () => {
    const words = ["it's", "''", '', '$(touch /tmp/vmo-quote-pwned)', '`id`', 'a\nb', '\\', '"', '$HOME *', ' lead and trail ', "'; echo hi; '", 'é\u2028\t'];
    const script = `printf '%s\\0' ${words.map(shellQuote).join(' ')}`;
    const out = execFileSync('/bin/sh', ['-c', script]).toString('utf8');
    expect(out.split('\0').slice(0, -1)).toEqual(words);
  });
});
