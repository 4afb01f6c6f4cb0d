import { execFileSync } from 'node:child_process';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** A supplementary group the user is a member of (to check that jobs get it). */
  extraGroup: string;
}

/**
 * A system user for run-as tests (`VMO_RUN_AS`), created if missing; needs root. Idempotent and
 * safe when several test files ask at once: a user or group that appeared meanwhile is fine.
 * Its home (/nonexistent) does not exist, as for a typical service account.
 */
export function ensureTestUser(name = 'vmo-test-job'): TestUser {
  const extraGroup = `${name}-x`.slice(0, 32);
  ignoreExists(() => execFileSync('groupadd', ['--system', extraGroup], { stdio: 'pipe' }));
  ignoreExists(() =>
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', '--groups', extraGroup, name], { stdio: 'pipe' }),
  );
  execFileSync('usermod', ['--append', '--groups', extraGroup, name], { stdio: 'pipe' });
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  return { name, uid: id('-u'), gid: id('-g'), extraGroup };
}

/** groupadd/useradd exit 9 when the name is taken, 10 when another one holds the lock on /etc/passwd. */
function ignoreExists(run: () => void): void {
  for (let attempt = 0; ; attempt++) {
    try {
      return run();
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 9) return;
      if (status !== 10 || attempt >= 20) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}
