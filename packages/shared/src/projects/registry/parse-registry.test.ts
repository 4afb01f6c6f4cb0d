import { describe, expect, it } from 'vitest';
import { parseRegistry } from './parse-registry.ts';

describe('parseRegistry (mkcli-style alias=directory)', () => {
  it('reads alias=directory lines, skipping comments and blank lines, with $HOME and quotes as a shell would', () => {
    const text = ['# projects on web-1', '', 'web=/srv/web', '  api = ~/src/api   # the API', 'docs="/srv/my docs"', "tools='/opt/tools'", 'home=$HOME/src/home', 'h2=${HOME}', '\tlast=/x\r', ''].join('\n');
    expect(parseRegistry(text)).toEqual({
      entries: [
        { alias: 'web', dir: '/srv/web', line: 3 },
        { alias: 'api', dir: '~/src/api', line: 4 },
        { alias: 'docs', dir: '/srv/my docs', line: 5 },
        { alias: 'tools', dir: '/opt/tools', line: 6 },
        { alias: 'home', dir: '~/src/home', line: 7 },
        { alias: 'h2', dir: '~', line: 8 },
        { alias: 'last', dir: '/x', line: 9 },
      ],
      skipped: [],
    });
  });

  it('reports each bad line with its number and why; the first line of an alias counts', () => {
    const text = ['web=/srv/web', 'just-a-word', 'bad alias=/x', 'rel=src/app', 'var=$SRC/app', 'web=/srv/other', 'import=/x', '=/nothing', 'nl=/a\u0007b'].join('\n');
    const { entries, skipped } = parseRegistry(text);
    expect(entries).toEqual([{ alias: 'web', dir: '/srv/web', line: 1 }]);
    expect(skipped).toEqual([
      { alias: null, line: 2, reason: 'not alias=directory (no "=")' },
      { alias: 'bad alias', line: 3, reason: expect.stringMatching(/^alias: must be 1-63 letters/) },
      { alias: 'rel', line: 4, reason: expect.stringMatching(/^directory: must be an absolute path/) },
      { alias: 'var', line: 5, reason: 'directory: only $HOME is expanded; write the path out' },
      { alias: 'web', line: 6, reason: 'alias already given on line 1' },
      { alias: 'import', line: 7, reason: 'alias: "import" is reserved' },
      { alias: null, line: 8, reason: expect.stringMatching(/^alias:/) },
      { alias: 'nl', line: 9, reason: expect.stringMatching(/^directory: must be an absolute path/) },
    ]);
  });
});
