/**
 * The discovery job's script (issue 15 §Projects) through a real `sh` and GNU make, as an agent or
 * an SSH host runs it: what it prints is read back into the targets, the machine's environment
 * never reaches the output (make's database lists it: a token in the agent's environment would be
 * stored in the job's output otherwise), and a missing directory or Makefile is said in one line.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDiscoveryOutput } from '../src/projects/discovery/discovery-output.ts';
import { discoveryScript } from '../src/projects/discovery/discovery-script.ts';
import { parseTargetList } from '../src/projects/discovery/list-command-output.ts';
import { makeTargetsOf } from '../src/projects/make-database/make-targets.ts';

const run = promisify(execFile);
const SECRET = 'vmoDiscoverySecret-9f2c1a';
const MARKER = 'vmo-discovery-test0123456789';

async function discover(dir: string, listCommand?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), AGENT_TOKEN: SECRET, MULTI: `line1\n${SECRET}\nline3` };
  try {
    const { stdout, stderr } = await run('sh', ['-c', discoveryScript({ dir, marker: MARKER, listCommand: listCommand ?? null })], { env, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('the discovery script, through sh and GNU make', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vmo-discovery-'));
    await cp(join(import.meta.dirname, 'fixtures', 'makefiles', 'prometheus'), join(root, "it's prometheus"), { recursive: true });
    await mkdir(join(root, 'empty'));
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("prints make's database and the makefiles' sources, which read back into the targets; the environment's values are left out", async () => {
    const { stdout, code } = await discover(join(root, "it's prometheus"));
    expect(code).toBe(0);
    expect(stdout).not.toContain(SECRET);
    const out = readDiscoveryOutput(stdout, MARKER);
    expect(Object.keys(out.sources)).toEqual(['Makefile', 'Makefile.common']);
    expect(out.database).toContain('# Files');
    expect(out.makeStderr).not.toContain("No rule to make target ':'");
    const names = makeTargetsOf(out.database!, out.sources).targets.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['build', 'common-build', 'common-docker-amd64']));
  });

  it('a missing directory or Makefile is one line of its own, and an exit status', async () => {
    const missing = await discover(join(root, 'nowhere'));
    expect([missing.code, readDiscoveryOutput(missing.stdout, MARKER).error]).toEqual([3, 'dir_missing']);
    expect(missing.stderr).toContain('vmo: no directory');
    const empty = await discover(join(root, 'empty'));
    expect([empty.code, readDiscoveryOutput(empty.stdout, MARKER).error]).toEqual([4, 'no_makefile']);
  });

  it("a list command's output and exit status, run in the directory", async () => {
    const listed = await discover(join(root, 'empty'), 'pwd; printf "build  Build it\\n"');
    const out = readDiscoveryOutput(listed.stdout, MARKER);
    expect(out.list?.exitCode).toBe(0);
    expect(parseTargetList(out.list!.text).map((t) => t.name)).toEqual([join(root, 'empty'), 'build']);
    const failing = await discover(join(root, 'empty'), 'exit 5');
    expect([failing.code, readDiscoveryOutput(failing.stdout, MARKER).list?.exitCode]).toEqual([5, 5]);
  });
});
