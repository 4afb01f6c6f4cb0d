import { describe, expect, it } from 'vitest';
import { safeLink } from './console-links.ts';

describe("the console's links", () => {
  it('opens http and https only, as the URL parser reads them', () => {
    expect(safeLink('https://example.com/docs?a=1')).toBe('https://example.com/docs?a=1');
    expect(safeLink('HTTP://Example.com')).toBe('http://example.com/');
    for (const text of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>x</script>', 'file:///etc/passwd', 'vbscript:x', '/relative', 'not a url', ''])
      expect(safeLink(text), text).toBeUndefined();
  });
});
