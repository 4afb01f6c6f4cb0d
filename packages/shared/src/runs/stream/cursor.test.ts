import { describe, expect, it } from 'vitest';
import { MAX_RUN_STREAM_AFTER_CHARS } from '../../api/run-stream.ts';
import { checkCursorFitsRun, decodeRunCursor, encodeRunCursor, MAX_CURSOR_CHARS, MAX_INDEX, startCursor, type RunStreamCursor } from './cursor.ts';
import { chunkPosition, PAST_LAST_POSITION } from './chunk-position.ts';
import { EMPTY_SNAPSHOT, isSnapshot, MAX_SNAPSHOT_XIP, parseSnapshot } from './pg-snapshot.ts';

const RUN = 'run_0123456789abcdefghij';
const OTHER = 'run_abcdefghij0123456789';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const decode = (text: string, output = true) => decodeRunCursor(text, { runId: RUN, output });
const refusal = (text: string, output = true) => {
  try {
    decode(text, output);
  } catch (err) {
    return err as { status: number; code: string; message: string; details: unknown };
  }
  throw new Error(`accepted ${text}`);
};

describe('pg snapshot text', () => {
  it('accepts what Postgres prints', () => {
    for (const s of [EMPTY_SNAPSHOT, '1287:1287:', '10:20:12,15', '10:20:10', '9223372036854775806:9223372036854775807:']) expect(isSnapshot(s), s).toBe(true);
    expect(parseSnapshot('10:20:12,15')).toEqual({ xmin: 10n, xmax: 20n, xip: [12n, 15n] });
  });

  it(`lists at most ${MAX_SNAPSHOT_XIP} transactions in progress`, () => {
    const listing = (n: number) => `1000:9000:${Array.from({ length: n }, (_, i) => 1000 + i).join(',')}`;
    expect(isSnapshot(listing(MAX_SNAPSHOT_XIP))).toBe(true);
    expect(parseSnapshot(listing(MAX_SNAPSHOT_XIP + 1))).toEqual({ problem: `lists more than ${MAX_SNAPSHOT_XIP} transactions in progress` });
  });

  it('refuses what Postgres would refuse or never prints', () => {
    for (const s of ['', '0:0:', '11:10:', '10:20:20', '10:20:9', '10:20:15,12', '10:20:12,12', '010:20:', ' 10:20:', '10:20:,', '10:20:12,', '10:20', 'a:b:', '9223372036854775807:9223372036854775808:']) {
      expect(isSnapshot(s), s).toBe(false);
    }
  });
});

describe('run stream cursor', () => {
  const cursors: RunStreamCursor[] = [
    startCursor(RUN, true),
    startCursor(RUN, false),
    { runId: RUN, output: true, position: { phase: 'between', snapshot: '100:105:101,103', holds: [[0, 7], [12, 0]] } },
    { runId: RUN, output: true, position: { phase: 'output', snapshot: '100:100:', holds: [[3, 2]], upper: '104:110:106', at: [2, chunkPosition(3, 41)], nextHolds: [[1, 9]] } },
    { runId: RUN, output: true, position: { phase: 'status', snapshot: '100:100:', upper: '104:110:106', nextHolds: [], afterIndex: 17 } },
    { runId: RUN, output: false, position: { phase: 'status', snapshot: EMPTY_SNAPSHOT, upper: '5:5:', nextHolds: [], afterIndex: -1 } },
  ];

  it('round-trips every phase through an opaque URL-safe string', () => {
    for (const c of cursors) {
      const text = encodeRunCursor(c);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decode(text, c.output)).toEqual(c);
    }
  });

  it('reads a version-1 cursor (bare seqs, before retries) as the same place in attempt 1', () => {
    const v1 = b64({ v: 1, r: RUN, o: 1, s: '10:12:', h: [[0, 7]], u: '11:12:', p: [2, 2 ** 31 - 1], g: [[1, 3]] });
    expect(decode(v1).position).toEqual({ phase: 'output', snapshot: '10:12:', holds: [[0, chunkPosition(1, 7)]], upper: '11:12:', at: [2, PAST_LAST_POSITION], nextHolds: [[1, chunkPosition(1, 3)]] });
    expect(decode(b64({ v: 1, r: RUN, o: 1, s: '10:12:', u: '11:12:', p: [-1, -1] })).position).toMatchObject({ phase: 'output', at: [-1, -1] });
  });

  it('is small: a cursor between windows is under 160 characters', () => {
    expect(encodeRunCursor({ runId: RUN, output: true, position: { phase: 'between', snapshot: '123456789:123456799:123456790,123456795', holds: [] } }).length).toBeLessThan(160);
  });

  it('refuses a garbled, foreign or made-up cursor with a 400 naming after', () => {
    const good = encodeRunCursor(cursors[3]!);
    const cases: [string, string][] = [
      ['empty', ''],
      ['not base64url', 'abc+/='],
      ['padding', `${good}=`],
      ['truncated', good.slice(0, -3)],
      ['a non-canonical spelling of the same bytes', `${b64({ v: 1 }).slice(0, -1)}z`],
      ['not JSON', Buffer.from('not json').toString('base64url')],
      ['JSON but not an object', b64([1, 2])],
      ['another version', b64({ v: 3, r: RUN, o: 1, s: EMPTY_SNAPSHOT })],
      ['a version-1 seq past 31 bits', b64({ v: 1, r: RUN, o: 1, s: '10:12:', h: [[0, 2 ** 31]] })],
      ['a position past exact integers', b64({ v: 2, r: RUN, o: 1, s: '10:12:', h: [[0, 2 ** 53]] })],
      ['a fractional position', b64({ v: 2, r: RUN, o: 1, s: '10:12:', h: [[0, 1.5]] })],
      ['an unknown field', b64({ v: 1, r: RUN, o: 1, s: EMPTY_SNAPSHOT, x: 1 })],
      ['a bad snapshot', b64({ v: 1, r: RUN, o: 1, s: '10:5:' })],
      ['a bad upper snapshot', b64({ v: 1, r: RUN, o: 1, s: '1:1:', u: 'x', p: [0, 0] })],
      ['an upper end older than its start', b64({ v: 1, r: RUN, o: 1, s: '10:12:', u: '5:6:', p: [0, 0] })],
      ['a position without a window', b64({ v: 1, r: RUN, o: 1, s: '10:12:', p: [0, 0] })],
      ['a window without a position', b64({ v: 1, r: RUN, o: 1, s: '10:12:', u: '10:12:' })],
      ['both positions', b64({ v: 1, r: RUN, o: 1, s: '10:12:', u: '10:12:', p: [0, 0], q: 1 })],
      ['holds out of order', b64({ v: 1, r: RUN, o: 1, s: '10:12:', h: [[3, 1], [2, 1]] })],
      ['a negative hold', b64({ v: 1, r: RUN, o: 1, s: '10:12:', h: [[0, -1]] })],
      ['a fractional index', b64({ v: 1, r: RUN, o: 1, s: '10:12:', u: '10:12:', p: [0.5, 0] })],
      ['holds on a stream without output', b64({ v: 1, r: RUN, o: 0, s: '10:12:', h: [[0, 1]] })],
      ['not a run id', b64({ v: 1, r: 'job_0123456789abcdefghij', o: 1, s: EMPTY_SNAPSHOT })],
      ['too long', 'A'.repeat(MAX_CURSOR_CHARS + 4)],
    ];
    for (const [what, text] of cases) {
      const err = refusal(text);
      expect(err.status, what).toBe(400);
      expect(err.code, what).toBe('validation_failed');
      expect(err.message, what).toMatch(/^after: /);
      expect(err.details, what).toEqual({ field: 'after' });
    }
  });

  it("is no longer than the contract's ?after= allows", () => {
    expect(MAX_CURSOR_CHARS).toBe(MAX_RUN_STREAM_AFTER_CHARS);
  });

  it('refuses a cursor of another run, or of the other mode (an ?output=false cursor stands for no output)', () => {
    expect(refusal(encodeRunCursor(startCursor(OTHER, true))).message).toBe(`after: is a cursor of another run (${OTHER})`);
    expect(refusal(encodeRunCursor(startCursor(RUN, false)), true).message).toMatch(/^after: is a cursor of a stream opened with \?output=false/);
    expect(refusal(encodeRunCursor(startCursor(RUN, true)), false).message).toMatch(/^after: is a cursor of a stream with output/);
  });

  it('names only children the run has: every index below its total (so at most total holds), else 400 naming after', () => {
    const fits = (position: RunStreamCursor['position'], total: number) => checkCursorFitsRun({ runId: RUN, output: true, position }, total);
    const ok: [RunStreamCursor['position'], number][] = [
      [{ phase: 'between', snapshot: EMPTY_SNAPSHOT, holds: [] }, 1],
      [{ phase: 'between', snapshot: '10:12:', holds: [[0, 3], [2, 0]] }, 3],
      [{ phase: 'output', snapshot: '10:12:', holds: [[2, 0]], upper: '11:12:', at: [-1, -1], nextHolds: [] }, 3],
      [{ phase: 'output', snapshot: '10:12:', holds: [], upper: '11:12:', at: [2, PAST_LAST_POSITION], nextHolds: [[1, PAST_LAST_POSITION]] }, 3],
      [{ phase: 'status', snapshot: '10:12:', upper: '11:12:', nextHolds: [[2, 0]], afterIndex: 2 }, 3],
      [{ phase: 'status', snapshot: '10:12:', upper: '11:12:', nextHolds: [], afterIndex: -1 }, 1],
    ];
    for (const [position, total] of ok) expect(fits(position, total).position).toEqual(position);
    const near = MAX_INDEX - 1;
    const refused: [string, RunStreamCursor['position'], number][] = [
      ['a hold on child 2^31 - 2', { phase: 'between', snapshot: EMPTY_SNAPSHOT, holds: [[near, 0]] }, 3],
      ['a hold on the child after the last', { phase: 'between', snapshot: EMPTY_SNAPSHOT, holds: [[0, 0], [3, 0]] }, 3],
      ['more holds than children', { phase: 'between', snapshot: EMPTY_SNAPSHOT, holds: Array.from({ length: 4 }, (_, i) => [i, 0] as const) }, 3],
      ['a window hold past the end', { phase: 'output', snapshot: '10:12:', holds: [[5, 0]], upper: '11:12:', at: [0, 0], nextHolds: [] }, 3],
      ['a position past the end', { phase: 'output', snapshot: '10:12:', holds: [], upper: '11:12:', at: [near, 0], nextHolds: [] }, 3],
      ['a found hold past the end', { phase: 'output', snapshot: '10:12:', holds: [], upper: '11:12:', at: [0, 0], nextHolds: [[near, 0]] }, 3],
      ['statuses past the end', { phase: 'status', snapshot: '10:12:', upper: '11:12:', nextHolds: [], afterIndex: 3 }, 3],
      ['a found hold past the end, statuses', { phase: 'status', snapshot: '10:12:', upper: '11:12:', nextHolds: [[3, 1]], afterIndex: 0 }, 3],
    ];
    for (const [what, position, total] of refused) {
      let err: { status: number; code: string; message: string; details: unknown } | undefined;
      try {
        fits(position, total);
      } catch (e) {
        err = e as typeof err;
      }
      expect(err, what).toMatchObject({ status: 400, code: 'validation_failed', details: { field: 'after' } });
      expect(err!.message, what).toMatch(/^after: .*the run has 3/);
    }
  });
});
