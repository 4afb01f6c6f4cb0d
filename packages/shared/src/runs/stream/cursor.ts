import { z } from 'zod';
import { badRequest, type AppError } from '../../errors/app-error.ts';
import { chunkPosition, PAST_LAST_POSITION } from './chunk-position.ts';
import { EMPTY_SNAPSHOT, parseSnapshot } from './pg-snapshot.ts';

/**
 * Where a run stream stands: what a subscriber has been sent, exactly, as a position the server
 * can resume from. Handed to clients as an opaque cursor (`cursor` on every message; `?after=`
 * to resume): base64url of a small versioned JSON, validated strictly on the way back.
 *
 * Delivered = every row the `snapshot` sees (job_output by `xid`, children and the run by
 * `status_xid`), less the rows of `holds`. A hold `[index, position]` (a chunk position,
 * chunk-position.ts: attempt and seq in one number): child `index`'s output from `position`
 * on is not delivered yet, even where the snapshot sees it — its transaction committed before an
 * earlier chunk of the same child did, and chunks go out in seq order (read-run-stream.ts).
 *
 * A window (snapshot → upper) is sent in phases, and a cursor can point inside one:
 * - `between` windows: `snapshot` (and `holds`) as above;
 * - `output`: sending the window's output, in (index, seq) order; everything up to `at` was sent,
 *   and `nextHolds` are the holds found so far for the children before `at`;
 * - `status`: the output is all sent; the status changes of children up to `afterIndex` too.
 */
export type Hold = readonly [index: number, position: number];

export type RunStreamPosition =
  | { phase: 'between'; snapshot: string; holds: readonly Hold[] }
  | { phase: 'output'; snapshot: string; holds: readonly Hold[]; upper: string; at: readonly [index: number, position: number]; nextHolds: readonly Hold[] }
  | { phase: 'status'; snapshot: string; upper: string; nextHolds: readonly Hold[]; afterIndex: number };

export interface RunStreamCursor {
  runId: string;
  /** false: a stream opened with `?output=false` (its cursor never stands for output). */
  output: boolean;
  position: RunStreamPosition;
}

/** Where a stream without `?after=` starts: nothing delivered. */
export function startCursor(runId: string, output: boolean): RunStreamCursor {
  return { runId, output, position: { phase: 'between', snapshot: EMPTY_SNAPSHOT, holds: [] } };
}

/** The largest child index a cursor may name (run indexes are Postgres ints). */
export const MAX_INDEX = 2 ** 31 - 1;
/** Version 1 wrote bare seqs (before retries), its "past the last chunk" this one. */
const V1_PAST_LAST = 2 ** 31 - 1;
/** More than any URL carries (a hold takes ~12 characters): a longer `after` is refused unread. */
export const MAX_CURSOR_CHARS = 16_384;

const int = (min: number) => z.number().int().min(min).max(MAX_INDEX);
/** A chunk position (chunk-position.ts): exact integers only. */
const position = (min: number) => z.number().int().min(min).max(PAST_LAST_POSITION);
const holdList = z.array(z.tuple([int(0), position(0)])).max(100_000);
/** The wire form; short keys, since every message carries one. */
const Wire = z
  .object({
    v: z.union([z.literal(1), z.literal(2)]),
    r: z.string().regex(/^run_[0-9a-z]{20}$/),
    o: z.union([z.literal(0), z.literal(1)]),
    s: z.string().max(MAX_CURSOR_CHARS),
    h: holdList.optional(),
    u: z.string().max(MAX_CURSOR_CHARS).optional(),
    p: z.tuple([int(-1), position(-1)]).optional(),
    g: holdList.optional(),
    q: int(-1).optional(),
  })
  .strict();
type Wire = z.infer<typeof Wire>;

export function encodeRunCursor(cursor: RunStreamCursor): string {
  const p = cursor.position;
  const wire: Wire = { v: 2, r: cursor.runId, o: cursor.output ? 1 : 0, s: p.snapshot };
  if (p.phase !== 'status' && p.holds.length > 0) wire.h = p.holds.map((h) => [h[0], h[1]]);
  if (p.phase !== 'between') {
    wire.u = p.upper;
    if (p.phase === 'output') wire.p = [p.at[0], p.at[1]];
    else wire.q = p.afterIndex;
    if (p.nextHolds.length > 0) wire.g = p.nextHolds.map((h) => [h[0], h[1]]);
  }
  return Buffer.from(JSON.stringify(wire)).toString('base64url');
}

/**
 * The cursor in `?after=`, for this run and mode, or a 400 naming `after`. Refused: anything not
 * exactly as the server encodes it (base64url, JSON, the version, the fields of its phase), a
 * snapshot Postgres would not print, a cursor of another run, and one of the other mode (a
 * `?output=false` cursor stands for no output, so resuming output from it would skip bytes).
 */
export function decodeRunCursor(text: string, expect: { runId: string; output: boolean }): RunStreamCursor {
  const fail = (why: string): AppError => badRequest('validation_failed', `after: ${why}`, { field: 'after' });
  const garbled = () => fail('is not a cursor this server handed out (pass the `cursor` of the last message you received)');
  if (text.length === 0 || text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) throw garbled();
  const bytes = Buffer.from(text, 'base64url');
  // Node's decoder skips what it cannot read; only the canonical spelling of some bytes is a cursor.
  if (bytes.toString('base64url') !== text) throw garbled();
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw garbled();
  }
  const parsed = Wire.safeParse(json);
  if (!parsed.success) throw garbled();
  const w = v1AsV2(parsed.data, garbled);
  if (w.r !== expect.runId) throw fail(`is a cursor of another run (${w.r})`);
  if ((w.o === 1) !== expect.output) throw fail(w.o === 1 ? 'is a cursor of a stream with output: resume it without ?output=false' : 'is a cursor of a stream opened with ?output=false: resume it with ?output=false');

  const snapshot = checkedSnapshot(w.s, garbled);
  const holds = checkedHolds(w.h ?? [], garbled);
  const nextHolds = checkedHolds(w.g ?? [], garbled);
  if (w.o === 0 && (holds.length > 0 || nextHolds.length > 0 || w.p !== undefined)) throw garbled();
  const base = { runId: w.r, output: w.o === 1 };
  if (w.u === undefined) {
    if (w.p !== undefined || w.q !== undefined || w.g !== undefined) throw garbled();
    return { ...base, position: { phase: 'between', snapshot, holds } };
  }
  const upper = checkedSnapshot(w.u, garbled);
  const [lo, hi] = [parseSnapshot(snapshot), parseSnapshot(upper)] as { xmin: bigint; xmax: bigint }[];
  // A window only ever grows what is visible: its upper end cannot be older than its start.
  if (hi!.xmin < lo!.xmin || hi!.xmax < lo!.xmax) throw garbled();
  if ((w.p === undefined) === (w.q === undefined)) throw garbled();
  if (w.p !== undefined) return { ...base, position: { phase: 'output', snapshot, holds, upper, at: [w.p[0], w.p[1]], nextHolds } };
  if (w.h !== undefined) throw garbled();
  return { ...base, position: { phase: 'status', snapshot, upper, nextHolds, afterIndex: w.q! } };
}

/**
 * A decoded cursor names only children the run has: every index (holds, the position) below its
 * `total`, so at most `total` holds. Else a 400 naming `after`.
 *
 * LOUD: the reader sizes work by these numbers (a hold is a child to look into, a position where
 * to start), and a cursor is the client's to forge. Checked at the upgrade, before anything is
 * read for it: a hold on child 2^31 − 2 once had the API allocate arrays of 2^31 elements and die.
 * Positions need no run-side bound: exact integers (the wire form's), compared, never counted out.
 */
export function checkCursorFitsRun(cursor: RunStreamCursor, total: number): RunStreamCursor {
  const p = cursor.position;
  const names = (index: number, what: string) => {
    if (index >= total) throw badRequest('validation_failed', `after: ${what} child ${index}, but the run has ${total} (pass the \`cursor\` of the last message you received)`, { field: 'after' });
  };
  const holdLists = p.phase === 'status' ? [p.nextHolds] : p.phase === 'output' ? [p.holds, p.nextHolds] : [p.holds];
  for (const holds of holdLists) {
    // Indexes are strictly increasing (decodeRunCursor): the last is the largest, and below total means at most total holds.
    if (holds.length > total) throw badRequest('validation_failed', `after: holds ${holds.length} children back, but the run has ${total}`, { field: 'after' });
    if (holds.length > 0) names(holds[holds.length - 1]![0], 'holds back');
  }
  if (p.phase === 'output') names(p.at[0], 'is in the output of');
  if (p.phase === 'status') names(p.afterIndex, 'sent the statuses up to');
  return cursor;
}

/**
 * A version-1 cursor (before retries, issue 14) counted in bare seqs of the child's one attempt:
 * the same place in attempt 1. A seq past 32 bits was never written by a server: garbled.
 */
function v1AsV2(w: Wire, garbled: () => AppError): Wire {
  if (w.v === 2) return w;
  const at = (seq: number): number => {
    if (seq > V1_PAST_LAST) throw garbled();
    return seq === V1_PAST_LAST ? PAST_LAST_POSITION : seq < 0 ? seq : chunkPosition(1, seq);
  };
  const holds = (list: [number, number][] | undefined) => list?.map(([index, seq]) => [index, at(seq)] as [number, number]);
  return { ...w, v: 2, h: holds(w.h), g: holds(w.g), p: w.p && [w.p[0], at(w.p[1])] };
}

function checkedSnapshot(text: string, garbled: () => AppError): string {
  if ('problem' in parseSnapshot(text)) throw garbled();
  return text;
}

/** One hold per child, in index order (as the server writes them). */
function checkedHolds(holds: [number, number][], garbled: () => AppError): Hold[] {
  for (let i = 1; i < holds.length; i++) if (holds[i]![0] <= holds[i - 1]![0]) throw garbled();
  return holds.map(([index, seq]) => [index, seq] as const);
}
