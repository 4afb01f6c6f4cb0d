import { describe, expect, it } from 'vitest';
import { chooseScenarios } from '../src/main.ts';

/**
 * agents-100k (issue 16's moonshot) holds 100,000 sockets for minutes: it must never run as part
 * of `npm run bench` or `--quick` (bench-quick.test.ts runs the latter), only when named.
 */
describe('chooseScenarios', () => {
  it('leaves the opt-in agents-100k out of the default run and --quick', () => {
    const names = chooseScenarios(undefined).map((s) => s.name);
    expect(names).toEqual(['submit', 'throughput', 'latency', 'output', 'fan-out', 'agents', 'scale-out', 'ssh', 'fleet']);
    expect(chooseScenarios([]).map((s) => s.name)).toEqual(names);
  });

  it('runs agents-100k when --only names it, alone or with others', () => {
    expect(chooseScenarios(['agents-100k']).map((s) => s.name)).toEqual(['agents-100k']);
    expect(chooseScenarios(['agents-100k', 'agents']).map((s) => s.name)).toEqual(['agents', 'agents-100k']);
  });

  it('refuses an unknown name, listing the choices', () => {
    expect(() => chooseScenarios(['agents-1m'])).toThrow(/unknown scenario agents-1m; choose from .*agents-100k/);
  });
});
