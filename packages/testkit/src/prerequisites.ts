import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Programs the integration tests start, besides Node, Postgres and Redis (which global-setup.ts
 * checks by connecting). Without one, every file that needs it would time out one after the
 * other; `npm test` stops at once instead, with one line saying what to install.
 *
 * To add one: a line here, with the names it may
 * have (first found wins) and the Debian package that provides it.
 */
export interface Prerequisite {
  /** Absolute paths are checked as they are; bare names are looked up on PATH. Any one found is enough. */
  anyOf: readonly string[];
  /** The Debian/Ubuntu package that provides it. */
  debianPackage: string;
  /** Which tests need it. */
  neededBy: string;
}

export const TEST_PREREQUISITES: readonly Prerequisite[] = [
  // sshd refuses to re-exec itself unless started by absolute path: sshd.ts uses this one.
  { anyOf: ['/usr/sbin/sshd'], debianPackage: 'openssh-server', neededBy: 'SSH targets (testkit/src/sshd.ts)' },
  { anyOf: ['ssh-keygen'], debianPackage: 'openssh-client', neededBy: 'SSH keys of the test hosts' },
  { anyOf: ['ssh'], debianPackage: 'openssh-client', neededBy: 'SSH hops and host-key tests' },
  { anyOf: ['redis-server'], debianPackage: 'redis-server', neededBy: 'tests that kill and restart a Redis of their own' },
  { anyOf: ['pgrep'], debianPackage: 'procps', neededBy: 'checks that a canceled job left no process behind' },
  { anyOf: ['setpriv'], debianPackage: 'util-linux', neededBy: 'jobs run as another user, VMO_RUN_AS' },
  { anyOf: ['unshare'], debianPackage: 'util-linux', neededBy: 'the agent installer, run in a scratch root (packages/cli/test/install.test.ts)' },
  { anyOf: ['bwrap'], debianPackage: 'bubblewrap', neededBy: "workspaces' netns provider sandboxes (services/worker/test/workspaces/netns-*)" },
  { anyOf: ['ip'], debianPackage: 'iproute2', neededBy: "workspaces' netns provider: network namespaces and veth pairs" },
  // playwright-core drives this one (testkit/src/browser.ts): Debian's, not a downloaded build.
  { anyOf: ['/usr/bin/chromium'], debianPackage: 'chromium', neededBy: 'the dashboard\'s browser tests (packages/dashboard/test)' },
];

export interface Lookup {
  /** PATH to search for bare names (default: this process's). */
  path?: string;
  /** Whether a file exists and is executable (default: the file system's answer). */
  isExecutable?: (file: string) => boolean;
}

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The prerequisites of `list` this machine lacks. */
export function missingPrerequisites(list: readonly Prerequisite[] = TEST_PREREQUISITES, lookup: Lookup = {}): Prerequisite[] {
  const isExecutable = lookup.isExecutable ?? executable;
  const dirs = (lookup.path ?? process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const found = (name: string) => (isAbsolute(name) ? isExecutable(name) : dirs.some((dir) => isExecutable(join(dir, name))));
  return list.filter((p) => !p.anyOf.some(found));
}

/** One line: what is missing and the one command that installs it all. */
export function missingPrerequisitesLine(missing: readonly Prerequisite[]): string {
  const packages = [...new Set(missing.map((p) => p.debianPackage))];
  const what = missing.map((p) => `${p.anyOf.join(' or ')} (${p.neededBy})`).join(', ');
  return `The tests need ${what}, not found on this machine: install ${missing.length > 1 ? 'them' : 'it'} (Debian/Ubuntu: apt-get install ${packages.join(' ')}) and run again; see README, "Quick start".`;
}
