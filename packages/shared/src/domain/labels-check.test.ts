import { describe, expect, it } from 'vitest';
import { AGENT_NAME_PATTERN } from './agent-name.ts';
import { LabelsInput } from './labels.ts';
import { labelsProblem } from './labels-check.ts';
import { AgentInput } from '../agents/agent-input.ts';

/** The zod-free label and name checks (for the bundled agent) against the schemas the server parses with. */
describe('labelsProblem agrees with LabelsInput', () => {
  const keys = ['zone', 'a', 'Z9', 'team.x', 'eu/1', 'a-b_c', 'k'.repeat(63), 'k'.repeat(64), '', '-a', '.a', 'a:b', 'a b', 'é', 'a\u0000', '日本'];
  const values = ['', 'eu', 'v'.repeat(255), 'v'.repeat(256), 'a\u0000b', 'bad \ud800', 'ok \ud83d\ude00', ' spaced '];
  const corpus: Record<string, string>[] = [{}];
  for (const k of keys) for (const v of values) corpus.push({ [k]: v }, { ok: 'x', [k]: v });
  corpus.push(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v'])));
  corpus.push(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])));
  corpus.push(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [i === 3 ? 'a:b' : `k${i}`, 'v'])));

  it.each(corpus.map((labels) => [JSON.stringify(labels).slice(0, 80), labels] as const))('%s', (_name, labels) => {
    const reference = LabelsInput.safeParse(labels);
    const problem = labelsProblem(labels);
    expect(problem === undefined).toBe(reference.success);
    // The same rule says why (zod wraps a bad key's message in an `invalid_key` issue).
    const messages = (issues: { message: string; issues?: unknown[] }[]): string[] => issues.flatMap((i) => [i.message, ...messages((i.issues ?? []) as typeof issues)]);
    if (problem && !reference.success) expect(messages(reference.error.issues)).toContain(problem.message);
  });

  it('agent names: the pattern is the schema of AgentInput.name', () => {
    for (const name of ['vm-1', 'a', 'A.b_c-d', 'x'.repeat(63), 'x'.repeat(64), '', '-vm', 'vm 1', 'vm/1', 'é']) {
      expect(AGENT_NAME_PATTERN.test(name), name).toBe(AgentInput.shape.name.safeParse(name).success);
    }
  });
});
