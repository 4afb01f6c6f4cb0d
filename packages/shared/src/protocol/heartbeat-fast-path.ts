/**
 * §5 The heartbeat's fast path. 10,000 agents send 1,000 heartbeats a second to an API node; a
 * JSON parse plus a zod union parse each cost more than everything else a heartbeat does. Every
 * agent writes its heartbeat as `JSON.stringify({type, v, running})` (heartbeat.ts), i.e. exactly
 * `{"type":"heartbeat","v":1,"running":N}`, so that byte string is recognised here without a parse.
 *
 * LOUD: this only ever ACCEPTS less than the schema. A frame in any other spelling (spaces, other
 * key order, extra keys, `1.0`) is not refused here: the caller hands it to the full parse
 * (AgentToServer), which stays the reference. heartbeat-fast-path.test.ts checks, over a corpus,
 * that whatever this accepts the schema accepts too, with the same `running`.
 */
const PREFIX = Buffer.from('{"type":"heartbeat","v":1,"running":');
/** `running` as JSON digits, at most 15 of them: always a safe integer (z.number().int()). */
const MAX_DIGITS = 15;
const ZERO = 0x30;
const NINE = 0x39;
const CLOSE_BRACE = 0x7d;

/** `running` of a heartbeat written in the agents' own spelling; undefined for any other frame. */
export function canonicalHeartbeatRunning(frame: Buffer): number | undefined {
  const digits = frame.length - PREFIX.length - 1;
  if (digits < 1 || digits > MAX_DIGITS || frame[frame.length - 1] !== CLOSE_BRACE) return undefined;
  if (frame.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0) return undefined;
  let running = 0;
  for (let i = PREFIX.length; i < frame.length - 1; i++) {
    const c = frame[i]!;
    if (c < ZERO || c > NINE) return undefined;
    running = running * 10 + (c - ZERO);
  }
  // JSON has no leading zeros: `01` is not JSON, so not a heartbeat the schema would see.
  if (digits > 1 && frame[PREFIX.length] === ZERO) return undefined;
  return running;
}
