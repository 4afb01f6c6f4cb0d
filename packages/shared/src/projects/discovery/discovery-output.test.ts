import { describe, expect, it } from 'vitest';
import { readDiscoveryOutput } from './discovery-output.ts';
import { parseTargetList } from './list-command-output.ts';

const M = 'vmo-discovery-0123456789';

describe('readDiscoveryOutput', () => {
  it('reads each section; a file keeps its bytes whether or not it ends with a newline', () => {
    const out = [`${M} begin stderr`, 'Makefile:3: warning: x', `${M} end stderr`, `${M} begin database`, '# GNU Make 4.3', '# Files', `${M} end database`, `${M} begin file Makefile`, 'all: ## A', '', `${M} end file`, `${M} begin file inc.mk`, 'x: y', `${M} end file`, ''].join('\n');
    expect(readDiscoveryOutput(out, M)).toEqual({ makeStderr: 'Makefile:3: warning: x', database: '# GNU Make 4.3\n# Files', sources: { Makefile: 'all: ## A\n', 'inc.mk': 'x: y' } });
  });

  it("reads the script's error, a list command's output and exit status; another marker is text", () => {
    expect(readDiscoveryOutput(`${M} error no_makefile\n`, M)).toEqual({ error: 'no_makefile', sources: {} });
    expect(readDiscoveryOutput(`${M} error something_else\n`, M)).toEqual({ sources: {} });
    const list = [`${M} begin list`, 'build  Build it', 'vmo-discovery-other begin file x', '', `${M} end list 3`].join('\n');
    expect(readDiscoveryOutput(list, M).list).toEqual({ text: 'build  Build it\nvmo-discovery-other begin file x\n', exitCode: 3 });
  });

  it('leaves out a section cut short (the output truncated)', () => {
    expect(readDiscoveryOutput(`${M} begin database\n# GNU Make 4.3\n# Files\n…`, M)).toEqual({ sources: {} });
  });
});

describe('parseTargetList', () => {
  it('one target per line: the first word, then its description; comments and blank lines skipped', () => {
    const text = ['# targets of web', 'build            Build the site', 'test: ## Run the tests', 'deploy - Deploy it', 'clean', '', 'build again', 'VAR=x not a target', '  lint\t# Lint'].join('\n');
    expect(parseTargetList(text)).toEqual([
      { name: 'build', description: 'Build the site', phony: false, file: null, line: null },
      { name: 'test', description: 'Run the tests', phony: false, file: null, line: null },
      { name: 'deploy', description: 'Deploy it', phony: false, file: null, line: null },
      { name: 'clean', description: '', phony: false, file: null, line: null },
      { name: 'lint', description: 'Lint', phony: false, file: null, line: null },
    ]);
  });
});
