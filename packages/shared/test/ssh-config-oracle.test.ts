import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { computeSshConfig, type ComputedHost } from '../src/hosts/compute-ssh-config.ts';
import { parseSshConfig } from '../src/hosts/ssh-config/parse-config.ts';

/**
 * The import against OpenSSH itself: every concrete alias of every config under
 * fixtures/ssh-config goes through our evaluator and through `ssh -G -F <file> <alias>` (which
 * prints the effective config and exits without connecting), and host, user, port, first identity
 * file, proxy and host-key policy must agree. An alias we skip must carry a reason; it is not
 * compared (ssh -G answers for it with facts of this machine: its login name, a Match exec result).
 *
 * ssh gets an empty HOME so it reads nothing but the file (-F also skips /etc/ssh/ssh_config).
 * LOUD: ssh -G runs `Match exec` commands, so the fixtures may only use `exec true` / `exec false`.
 */
const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, 'fixtures', 'ssh-config');
const home = mkdtempSync(join(tmpdir(), 'vmo-ssh-oracle-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function sshG(file: string, alias: string): Promise<Map<string, string[]>> {
  const { stdout } = await run('ssh', ['-G', '-F', file, '--', alias], { env: { PATH: process.env.PATH, HOME: home }, timeout: 20_000 });
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const key = line.slice(0, space);
    out.set(key, [...(out.get(key) ?? []), line.slice(space + 1)]);
  }
  return out;
}

/** What ssh -G says, in the import's terms. */
function fromSsh(g: Map<string, string[]>, defaultIdentities: string[]) {
  const identities = g.get('identityfile') ?? [];
  const byDefault = identities.join('\n') === defaultIdentities.join('\n');
  return {
    host: g.get('hostname')?.[0],
    user: g.get('user')?.[0],
    port: Number(g.get('port')?.[0]),
    identityFile: byDefault ? null : (identities.find((f) => f.toLowerCase() !== 'none') ?? null),
    // ssh -G puts a numeric last hop in brackets ("[10.0.0.1]").
    proxyJump: g.get('proxyjump')?.[0]?.replace(/[[\]]/g, '') ?? null,
    proxyCommand: g.get('proxycommand')?.[0] ?? null,
    hostKeyPolicy: g.get('stricthostkeychecking')?.[0] === 'accept-new' ? 'accept-new' : 'strict',
  };
}

const ours = (h: ComputedHost) => ({ host: h.host, user: h.user, port: h.port, identityFile: h.identityFile, proxyJump: h.proxyJump, proxyCommand: null, hostKeyPolicy: h.hostKeyPolicy });

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  }));
  return results;
}

describe('hosts import agrees with `ssh -G` on a corpus of real and adversarial configs', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.conf')).sort();

  it('the corpus is what it claims: 5+ real-world or realistic files, 10+ adversarial ones, only harmless Match exec', () => {
    expect(files.filter((f) => f.startsWith('adv-')).length).toBeGreaterThanOrEqual(10);
    expect(files.filter((f) => f.startsWith('real-') || f.startsWith('own-')).length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const text = readFileSync(join(FIXTURES, f), 'utf8');
      expect(text.startsWith('#'), `${f} starts with a header naming its source`).toBe(true);
      const matchLines = text.split('\n').filter((l) => /^\s*match\b/i.test(l));
      for (const line of matchLines) for (const m of line.matchAll(/\bexec\s+("?)([^\s"]*)\1/gi)) expect(['true', 'false'], `${f}: ${line}`).toContain(m[2]);
    }
  });

  it('every alias is either imported exactly as ssh resolves it, or skipped with a reason', async () => {
    const empty = join(home, 'empty.conf');
    writeFileSync(empty, '');
    const defaultIdentities = (await sshG(empty, 'probe')).get('identityfile') ?? [];
    expect(defaultIdentities.length).toBeGreaterThan(0);

    let compared = 0;
    let skippedCount = 0;
    const mismatches: string[] = [];
    for (const f of files) {
      const file = join(FIXTURES, f);
      const text = readFileSync(file, 'utf8');
      const result = computeSshConfig(text);
      const aliases = parseSshConfig(text).aliases.map((a) => a.alias);
      const imported = new Map(result.hosts.map((h) => [h.alias, h]));
      const skipped = new Map(result.skipped.map((s) => [s.alias, s.reason]));
      const checks = await mapLimit(aliases, 4, async (alias) => {
        const host = imported.get(alias);
        if (!host) return { alias, skipReason: skipped.get(alias) };
        return { alias, host, ssh: fromSsh(await sshG(file, alias), defaultIdentities) };
      });
      for (const c of checks) {
        if (!c.host) {
          skippedCount++;
          if (!c.skipReason) mismatches.push(`${f} ${c.alias}: neither imported nor skipped with a reason`);
          continue;
        }
        compared++;
        const mine = ours(c.host);
        for (const key of Object.keys(mine) as (keyof typeof mine)[]) {
          if (mine[key] !== c.ssh![key]) mismatches.push(`${f} ${c.alias}: ${key} is ${JSON.stringify(mine[key])}, ssh -G says ${JSON.stringify(c.ssh![key])}`);
        }
      }
    }
    console.log(`ssh -G oracle: ${files.length} files, ${compared} aliases compared, ${skippedCount} skipped with a reason, ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
    // Not a vacuous pass: most of the corpus is compared.
    expect(compared).toBeGreaterThanOrEqual(80);
  });
});
