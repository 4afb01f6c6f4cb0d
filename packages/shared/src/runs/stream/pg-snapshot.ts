/**
 * A Postgres snapshot (`pg_snapshot`) as text, `xmin:xmax:xip,…`: the set of transactions whose
 * effects it sees (every xid below xmin, and those below xmax not listed). A run stream's cursor
 * is one: "I have everything these transactions wrote" (see read-run-stream.ts).
 *
 * Only the canonical form Postgres prints is accepted (no leading zeros, no spaces, the in-progress
 * list ascending without duplicates, xmin ≤ xip < xmax): a cursor is handed out by the server, so
 * anything else was made up or damaged and is refused rather than normalised.
 */

/** Nothing is visible in it: the snapshot a stream starts from (everything is new). */
export const EMPTY_SNAPSHOT = '1:1:';

/** Postgres' xid8 is 64 bits; 2^63 − 1 leaves no doubt about signedness anywhere on the way. */
const MAX_XID = (1n << 63n) - 1n;
/**
 * The most transactions a snapshot may list as in progress. Postgres lists at most one per backend
 * (max_connections plus prepared transactions); a cursor carrying two snapshots of that many
 * 10-digit ids is past MAX_CURSOR_CHARS long before this. Only a made-up cursor lists more, and
 * every statement of the read parses and searches the list.
 */
export const MAX_SNAPSHOT_XIP = 2000;
const XID = '[1-9][0-9]{0,18}';
const SNAPSHOT = new RegExp(`^(${XID}):(${XID}):((?:${XID})(?:,${XID})*)?$`);

export interface ParsedSnapshot {
  xmin: bigint;
  xmax: bigint;
  xip: bigint[];
}

/** The snapshot's parts, or a reason it is not one. */
export function parseSnapshot(text: string): ParsedSnapshot | { problem: string } {
  const m = SNAPSHOT.exec(text);
  if (!m) return { problem: 'is not a snapshot (xmin:xmax:xip,…)' };
  const xmin = BigInt(m[1]!);
  const xmax = BigInt(m[2]!);
  const listed = m[3] ? m[3].split(',') : [];
  if (listed.length > MAX_SNAPSHOT_XIP) return { problem: `lists more than ${MAX_SNAPSHOT_XIP} transactions in progress` };
  const xip = listed.map(BigInt);
  if (xmax > MAX_XID) return { problem: 'has a transaction id out of range' };
  if (xmin > xmax) return { problem: 'has xmin above xmax' };
  for (let i = 0; i < xip.length; i++) {
    if (xip[i]! < xmin || xip[i]! >= xmax) return { problem: 'lists a transaction outside xmin..xmax' };
    if (i > 0 && xip[i]! <= xip[i - 1]!) return { problem: 'lists transactions out of order' };
  }
  return { xmin, xmax, xip };
}

export function isSnapshot(text: string): boolean {
  return !('problem' in parseSnapshot(text));
}
