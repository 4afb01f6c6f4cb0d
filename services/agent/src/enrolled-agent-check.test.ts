import { describe, expect, it } from 'vitest';
import { EnrolledAgent } from '@vmo/shared/api';
import { enrolledAgentOf } from './enrol.ts';

/**
 * PROTOCOL.md §8: the agent's hand check of the enrolment answer (enrol.ts enrolledAgentOf; the
 * bundle carries no zod) against the EnrolledAgent schema it stands in for (the reference), as
 * check-server-frame.test.ts does for frames: over a corpus of valid answers, each broken field by
 * field, and seeded random mutations, both accept the same answers with the same result and
 * refuse the same answers. An answer it wrongly accepts is an agent token saved wrong; one it
 * wrongly refuses is a machine that never enrols (EnrolmentRefused is for good).
 *
 * Every answer goes through JSON text first: the agent only ever sees what JSON.parse makes.
 */
const valid: Record<string, unknown>[] = [
  { agentId: 'agt_0123456789abcdefghij', name: 'web-1', labels: { zone: 'eu', team: 'ops' }, token: 'vmo_agt_abc-DEF_123' },
  { agentId: 'agt_x', name: 'n', labels: {}, token: 'vmo_agt_x' },
  { agentId: '', name: '', labels: { '': '' }, token: '' },
  { agentId: 'agt_x', name: 'n', labels: { a: 'ok \ud83d\ude00', 'eu/1': ' spaced ', '0': 'digit key', toString: 'x', constructor: 'y' }, token: 't' },
];

/** Values a field could wrongly hold (every JSON kind, and shapes close to the right one). */
const odd: unknown[] = [null, true, false, 0, -1, 1.5, 1e21, '', 'x', ' ', [], ['a'], [{}], {}, { a: 'b' }, { a: 1 }, { a: null }, { a: ['b'] }, { a: { b: 'c' } }];

const viaJson = (value: unknown): unknown => {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
};

function fieldByField(): unknown[] {
  const out: unknown[] = [undefined, null, [], 'agt_x', 1, true, {}, [valid[0]]];
  for (const answer of valid) {
    out.push(answer, { ...answer, extra: 'dropped' }, { ...answer, error: { code: 'x', message: 'y' } });
    for (const key of Object.keys(answer)) {
      const { [key]: _gone, ...without } = answer;
      out.push(without);
      for (const value of odd) out.push({ ...answer, [key]: value });
    }
    for (const value of [...odd, 'v']) {
      out.push({ ...answer, labels: { ...(answer.labels as object), bad: value } });
      out.push({ ...answer, labels: { ...(answer.labels as object), ['__proto__']: value } }); // an own key, as JSON.parse makes it
    }
  }
  return out;
}

/** mulberry32, as @vmo/testkit's seededRandom (the agent cannot depend on testkit: testkit depends on the agent). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A valid answer with one to three random changes: a field or label dropped, added, or set to an odd value. */
function mutated(random: () => number): unknown {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const answer = structuredClone(pick(valid)) as Record<string, unknown>;
  const keys = ['agentId', 'name', 'labels', 'token', 'extra'];
  for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
    const labels = answer.labels;
    const inLabels = random() < 0.4 && typeof labels === 'object' && labels !== null && !Array.isArray(labels);
    const target = inLabels ? (labels as Record<string, unknown>) : answer;
    const key = inLabels ? pick([...Object.keys(target), 'k', '__proto__']) : pick(keys);
    const what = random();
    if (what < 0.25) delete target[key];
    else if (what < 0.5) target[key] = pick(['s', '', 'agt_y', 'vmo_agt_z']);
    else target[key] = structuredClone(pick(odd));
  }
  return answer;
}

/**
 * The reference's verdict, with a label keyed `__proto__` (an own key, as JSON.parse makes it)
 * judged as any other key: zod gets such a record wrong (it loses a string value, and accepts a
 * non-string one), while the hand check keeps every label as sent, as an own key, and refuses a
 * value that is not a string. So that key is renamed for the reference and named back in its
 * result. Unreachable from a real server all the same: label keys start with a letter or a digit
 * (LABEL_KEY_PATTERN).
 */
const STAND_IN = 'proto stand-in';
const renameLabel = (labels: object, from: string, to: string) => Object.fromEntries(Object.entries(labels).map(([k, v]) => [k === from ? to : k, v]));

function reference(answer: unknown): ReturnType<typeof EnrolledAgent.safeParse> {
  const labels = (answer as { labels?: unknown } | null)?.labels;
  const proto = typeof labels === 'object' && labels !== null && !Array.isArray(labels) && Object.hasOwn(labels, '__proto__');
  if (!proto) return EnrolledAgent.safeParse(answer);
  const judged = EnrolledAgent.safeParse({ ...(answer as object), labels: renameLabel(labels, '__proto__', STAND_IN) });
  return judged.success ? { ...judged, data: { ...judged.data, labels: renameLabel(judged.data.labels, STAND_IN, '__proto__') as Record<string, string> } } : judged;
}

function check(answer: unknown): 'accepted' | 'refused' {
  const ref = reference(answer);
  const hand = enrolledAgentOf(answer);
  const shown = JSON.stringify(answer)?.slice(0, 300);
  expect(typeof hand !== 'string', shown).toBe(ref.success);
  if (!ref.success || typeof hand === 'string') return 'refused';
  expect(hand, shown).toEqual(ref.data);
  return 'accepted';
}

describe('enrolledAgentOf agrees with EnrolledAgent (the zod reference)', () => {
  it('valid answers, and each broken field by field: the same verdict and the same result', () => {
    const verdicts = fieldByField().map((a) => check(viaJson(a)));
    // The corpus exercises both sides.
    expect(verdicts.filter((v) => v === 'accepted').length).toBeGreaterThanOrEqual(valid.length * 3);
    expect(verdicts.filter((v) => v === 'refused').length).toBeGreaterThan(200);
  });

  it('seeded random mutations of valid answers: the same verdict and the same result', () => {
    const seed = Number(process.env.VMO_TEST_SEED ?? 20261201);
    const random = seededRandom(seed);
    const counts = { accepted: 0, refused: 0 };
    for (let i = 0; i < 2000; i++) counts[check(viaJson(mutated(random)))]++;
    expect(counts.accepted, `seed ${seed}`).toBeGreaterThan(80);
    expect(counts.refused, `seed ${seed}`).toBeGreaterThan(400);
  });

  it('says which field is wrong', () => {
    expect(enrolledAgentOf({ agentId: 'a', name: 'n', labels: { zone: 1 }, token: 't' })).toBe('labels.zone: expected a string');
    expect(enrolledAgentOf({ agentId: 'a', name: 'n', labels: {} })).toBe('token: expected a string');
    expect(enrolledAgentOf([])).toBe('not a JSON object');
  });

  it('a label keyed __proto__ stays a label: no prototype is set from the answer', () => {
    const hand = enrolledAgentOf(JSON.parse('{"agentId":"a","name":"n","labels":{"__proto__":"x"},"token":"t"}')) as EnrolledAgent;
    expect(Object.getPrototypeOf(hand.labels)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(hand.labels, '__proto__')?.value).toBe('x');
  });
});
