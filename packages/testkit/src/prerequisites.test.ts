import { describe, expect, it } from 'vitest';
import { missingPrerequisites, missingPrerequisitesLine, TEST_PREREQUISITES, type Prerequisite } from './prerequisites.ts';

/** A file system holding exactly these executables. */
const only = (...files: string[]) => (file: string) => files.includes(file);

describe('test prerequisites (issue 12: npm test stops at once, saying what to install)', () => {
  it('names sshd and its package when /usr/sbin/sshd is missing, whatever PATH holds', () => {
    const everythingButSshd = TEST_PREREQUISITES.flatMap((p) => p.anyOf).filter((f) => f !== '/usr/sbin/sshd').map((f) => (f.startsWith('/') ? f : `/usr/bin/${f}`));
    const missing = missingPrerequisites(TEST_PREREQUISITES, { path: '/usr/bin:/usr/sbin', isExecutable: only(...everythingButSshd, '/usr/sbin/other') });
    expect(missing.map((p) => p.anyOf)).toEqual([['/usr/sbin/sshd']]);
    const line = missingPrerequisitesLine(missing);
    expect(line).not.toContain('\n');
    expect(line).toContain('/usr/sbin/sshd');
    expect(line).toContain('apt-get install openssh-server');
  });

  it('finds bare names on PATH only, and reports each package once', () => {
    const missing = missingPrerequisites(TEST_PREREQUISITES, { path: '/opt/bin', isExecutable: only('/usr/sbin/sshd', '/usr/bin/ssh-keygen', '/usr/bin/ssh', '/opt/bin/redis-server', '/opt/bin/pgrep', '/opt/bin/setpriv', '/opt/bin/unshare', '/opt/bin/bwrap', '/opt/bin/ip', '/usr/bin/chromium') });
    expect(missing.map((p) => p.anyOf[0])).toEqual(['ssh-keygen', 'ssh']);
    expect(missingPrerequisitesLine(missing)).toContain('install them (Debian/Ubuntu: apt-get install openssh-client) and run again');
  });

  it('takes any one of several names (a list easy to extend: chromium or chromium-browser)', () => {
    const chromium: Prerequisite = { anyOf: ['chromium', 'chromium-browser'], debianPackage: 'chromium', neededBy: 'dashboard tests' };
    expect(missingPrerequisites([chromium], { path: '/usr/bin', isExecutable: only('/usr/bin/chromium-browser') })).toEqual([]);
    expect(missingPrerequisites([chromium], { path: '/usr/bin', isExecutable: only() })).toEqual([chromium]);
  });

  it('finds nothing missing on this machine (the suite runs here)', () => {
    expect(missingPrerequisites()).toEqual([]);
  });

  it('uses the real file system: a PATH without the tools lacks them', () => {
    const missing = missingPrerequisites(TEST_PREREQUISITES, { path: '/nonexistent-dir' });
    expect(missing.map((p) => p.anyOf[0])).toEqual(['ssh-keygen', 'ssh', 'redis-server', 'pgrep', 'setpriv', 'unshare', 'bwrap', 'ip']);
  });

  it('names unshare (util-linux), which the installer test needs for its scratch root', () => {
    const allButUnshare = TEST_PREREQUISITES.flatMap((p) => p.anyOf).filter((f) => f !== 'unshare').map((f) => (f.startsWith('/') ? f : `/usr/bin/${f}`));
    const missing = missingPrerequisites(TEST_PREREQUISITES, { path: '/usr/bin', isExecutable: only(...allButUnshare) });
    expect(missing.map((p) => p.anyOf)).toEqual([['unshare']]);
    expect(missingPrerequisitesLine(missing)).toContain('unshare (the agent installer, run in a scratch root');
    expect(missingPrerequisitesLine(missing)).toContain('apt-get install util-linux');
  });
});
