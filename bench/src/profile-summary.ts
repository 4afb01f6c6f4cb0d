import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Top self-time functions of V8 CPU profiles written by `npm run bench -- --profile DIR`:
 *   tsx bench/src/profile-summary.ts DIR/<scenario> [top] [FROM-TO seconds | busy]
 * Prints, per profile (named by the role in pids-*.json), the busy share of the run, the top
 * functions by self time, and self time grouped by package or source folder.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function area(url: string): string {
  if (!url) return '(native/gc/idle)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(packages|services|bench)\/([^/]+)\/src\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}/${src[3]!.split('/').slice(0, -1).join('/') || '.'}`;
  return url;
}

/** Busy share per second of the profile, to find the window where the load ran. */
export function busyTimeline(profile: Profile): number[] {
  const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const busy: number[] = [];
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const s = Math.floor(t / 1e6);
    busy[s] ??= 0;
    if (!idleIds.has(profile.samples[i]!)) busy[s] += (profile.timeDeltas[i] ?? 0) / 1e6;
  }
  return busy.map((b) => Math.round((b ?? 0) * 100));
}

/** Self time per function, over the whole profile or the seconds [fromS, toS) of it. */
export function summarizeProfile(profile: Profile, top = 15, fromS = 0, toS = Number.POSITIVE_INFINITY): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = 0;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromS * 1e6 || t >= toS * 1e6) continue;
    totalUs += dt;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt);
  }
  const fn = new Map<string, number>();
  const areas = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') {
      if (name === '(idle)') idle += us;
      else fn.set(name, (fn.get(name) ?? 0) + us);
      continue;
    }
    const file = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '');
    const key = `${name}  ${file}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = name === '(garbage collector)' ? '(gc)' : area(n.callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const busy = totalUs - idle;
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy ${(busy / 1e6).toFixed(2)} s of ${(totalUs / 1e6).toFixed(2)} s in the window`, 'top self time (share of busy):'];
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push('by area:');
  for (const [k, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`  ${pct(us)}  ${k}`);
  return lines.join('\n');
}

function main(): void {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: tsx bench/src/profile-summary.ts <profile dir> [top]\n');
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? 15);
  // Optional window in seconds from the profile's start; 'busy' picks the seconds above 50 % busy.
  const window = process.argv[4];
  const roles: Record<string, string> = {};
  for (const f of readdirSync(dir).filter((f) => f.startsWith('pids-'))) Object.assign(roles, JSON.parse(readFileSync(join(dir, f), 'utf8')));
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const pid = f.replace('.cpuprofile', '');
    const profile = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
    const timeline = busyTimeline(profile);
    let [from, to] = [0, Number.POSITIVE_INFINITY];
    if (window === 'busy') {
      const busySeconds = timeline.map((b, s) => (b >= 50 ? s : -1)).filter((s) => s >= 0);
      // Skip the start-up seconds (module loading): the first busy stretch that starts after 3 s.
      const after = busySeconds.filter((s) => s >= 3);
      [from, to] = after.length ? [after[0]!, after.at(-1)! + 1] : [0, Number.POSITIVE_INFINITY];
    } else if (window) [from, to] = window.split('-').map(Number) as [number, number];
    process.stdout.write(`\n== ${roles[pid] ?? '?'} (pid ${pid}) window ${from}-${to} s; busy % per second: ${timeline.join(' ')}\n${summarizeProfile(profile, top, from, to)}\n`);
  }
}

main();
