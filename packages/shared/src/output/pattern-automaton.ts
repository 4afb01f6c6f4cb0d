/**
 * An Aho-Corasick automaton over bytes: one pass over a stream finds every occurrence of any of a
 * set of byte patterns, in one step per byte (plus failure-link steps, never more than the bytes
 * read in all), however many patterns there are and however they share prefixes. SecretMasker is
 * built on it; see there for why (a pass per pattern made masking quadratic).
 *
 * A state is a node of the trie of the patterns: the longest end of the bytes read so far that is
 * the beginning of some pattern. Two facts per state give the masker all it needs:
 *
 * - `matchLength[state]`: the longest pattern that ends the bytes read (0: none). Every shorter
 *   pattern ending there lies inside it, so hiding that many bytes hides them all.
 * - `holdLength[state]`: the longest end of the bytes read that is a PROPER beginning of some
 *   pattern, so could still grow into an occurrence: what must be held back (at most longest - 1).
 *
 * Size: one node per distinct pattern prefix, so at most 1 + the patterns' total bytes, 21 bytes
 * of typed arrays each (the input limits keep a job's patterns under 128 KiB: under 3 MB). Built
 * once per job, in time linear in the patterns' bytes, and shared by its two streams.
 */
/**
 * The prefilter: a job has a secret or two, and ordinary output contains none of their beginnings,
 * so while the automaton is at its root the masker jumps with native `indexOf` (many times faster
 * than a byte loop in JS) to the next place where some pattern's first `prefixLength` bytes are.
 *
 * Why that is exact: at the root at offset i, no end of the output is a beginning of a pattern. An
 * occurrence starting in [i, j), j the next such place, would have its first bytes there: there is
 * none. A beginning still open at j started less than prefixLength bytes before it, so within the
 * data its first prefixLength bytes are all there and are no pattern's: it can never become an
 * occurrence, and starting afresh at j loses nothing. Only the last prefixLength - 1 bytes of a
 * write, where a beginning could be cut off by the end, go through the automaton byte by byte.
 *
 * With many distinct beginnings (a key of many lines, each a pattern) the native searches would
 * add up to more than the byte loop: no prefilter then.
 */
export const PREFILTER_MAX_PREFIXES = 8;
/** Longer needles are found faster, and more rarely by accident. */
export const PREFILTER_PREFIX_BYTES = 64;

export class PatternAutomaton {
  /** The longest pattern's length in bytes (0 when there are none). */
  readonly longest: number;
  readonly nodeCount: number;
  /** The root's transition for each byte (0: stay at the root). Node 0 is the root. */
  readonly rootNext: Int32Array;
  readonly matchLength: Int32Array;
  readonly holdLength: Int32Array;
  /** See `prefilter`. Empty when there are too many distinct beginnings for it to pay. */
  readonly prefixes: readonly Buffer[];
  readonly prefixLength: number;
  /**
   * Transitions taken by `next` (one per byte read off the root, plus one per failure link
   * followed): for tests to check that the work is linear in the bytes read.
   */
  steps = 0;
  /** Node n's children are edges [edgeStart[n], edgeStart[n + 1]), sorted by byte. */
  private readonly edgeStart: Int32Array;
  private readonly edgeByte: Uint8Array;
  private readonly edgeTarget: Int32Array;
  private readonly fail: Int32Array;

  constructor(patterns: Iterable<Uint8Array>, { maxPrefilterPrefixes = PREFILTER_MAX_PREFIXES } = {}) {
    const list: Uint8Array[] = [];
    let total = 0;
    let longest = 0;
    let shortest = Infinity;
    for (const p of patterns) {
      if (p.length === 0) continue;
      list.push(p);
      total += p.length;
      longest = Math.max(longest, p.length);
      shortest = Math.min(shortest, p.length);
    }
    this.longest = longest;

    // The trie. Node c > 0 is reached from parent[c] by byteOf[c]; a hash table open at most half
    // full finds a node's child by byte while building (slot 0: empty, the root is nobody's child).
    const parent = new Int32Array(total + 1);
    const byteOf = new Uint8Array(total + 1);
    const terminalDepth = new Int32Array(total + 1);
    let bits = 2;
    while (1 << bits < 2 * (total + 1)) bits++;
    const slots = new Int32Array(1 << bits);
    const slotMask = (1 << bits) - 1;
    let nodes = 1;
    for (const p of list) {
      let node = 0;
      const created = nodes; // a node made for this pattern has no child yet but the next one
      for (let i = 0; i < p.length; i++) {
        const byte = p[i]!;
        let slot = (Math.imul(node, 0x9e3779b1) ^ Math.imul(byte + 1, 0x85ebca6b)) >>> (32 - bits);
        let child = slots[slot]!;
        while (child !== 0 && (node >= created || parent[child] !== node || byteOf[child] !== byte)) {
          slot = (slot + 1) & slotMask;
          child = slots[slot]!;
        }
        if (child === 0) {
          child = nodes++;
          parent[child] = node;
          byteOf[child] = byte;
          slots[slot] = child;
        }
        node = child;
      }
      terminalDepth[node] = p.length;
    }
    this.nodeCount = nodes;

    // Edges grouped by parent, in byte order: counting sort by byte, then (stable) by parent.
    const byByte = new Int32Array(257);
    for (let c = 1; c < nodes; c++) byByte[byteOf[c]! + 1]!++;
    for (let b = 0; b < 256; b++) byByte[b + 1]! += byByte[b]!;
    const ordered = new Int32Array(nodes);
    for (let c = 1; c < nodes; c++) ordered[byByte[byteOf[c]!]!++] = c;
    this.edgeStart = new Int32Array(nodes + 1);
    for (let c = 1; c < nodes; c++) this.edgeStart[parent[c]! + 1]!++;
    for (let n = 0; n < nodes; n++) this.edgeStart[n + 1]! += this.edgeStart[n]!;
    const cursor = this.edgeStart.slice(0, nodes);
    this.edgeByte = new Uint8Array(Math.max(0, nodes - 1));
    this.edgeTarget = new Int32Array(Math.max(0, nodes - 1));
    this.rootNext = new Int32Array(256);
    for (let e = 0; e < nodes - 1; e++) {
      const c = ordered[e]!;
      const at = cursor[parent[c]!]!++;
      this.edgeByte[at] = byteOf[c]!;
      this.edgeTarget[at] = c;
      if (parent[c] === 0) this.rootNext[byteOf[c]!] = c;
    }

    // Failure links breadth first (a node's link is shallower, so already done), and with them
    // the two per-state facts, each taken from the link when the node itself does not settle it.
    this.fail = new Int32Array(nodes);
    this.matchLength = new Int32Array(nodes);
    this.holdLength = new Int32Array(nodes);
    const depth = new Int32Array(nodes);
    const queue = ordered; // reused: every node goes through the queue once
    let head = 0;
    let tail = 0;
    queue[tail++] = 0;
    while (head < tail) {
      const node = queue[head++]!;
      const link = this.fail[node]!;
      this.matchLength[node] = terminalDepth[node]! > 0 ? terminalDepth[node]! : this.matchLength[link]!;
      const from = this.edgeStart[node]!;
      const to = this.edgeStart[node + 1]!;
      // A node with children is a proper prefix of some pattern: all of it could still grow.
      this.holdLength[node] = to > from ? depth[node]! : this.holdLength[link]!;
      for (let e = from; e < to; e++) {
        const target = this.edgeTarget[e]!;
        this.fail[target] = node === 0 ? 0 : this.next(link, this.edgeByte[e]!);
        depth[target] = depth[node]! + 1;
        queue[tail++] = target;
      }
    }
    this.steps = 0; // the build's own lookups read no stream

    // The prefilter's needles: each pattern's first prefixLength bytes, if few distinct.
    this.prefixLength = Math.min(shortest, PREFILTER_PREFIX_BYTES);
    const prefixes = new Map<string, Buffer>();
    for (const p of list) {
      if (prefixes.size > maxPrefilterPrefixes) break;
      const prefix = Buffer.from(p.subarray(0, this.prefixLength));
      prefixes.set(prefix.toString('latin1'), prefix);
    }
    this.prefixes = prefixes.size <= maxPrefilterPrefixes ? [...prefixes.values()] : [];
  }

  /** The state after reading `byte` in `state`. */
  next(state: number, byte: number): number {
    for (;;) {
      this.steps++;
      if (state === 0) return this.rootNext[byte]!;
      const target = this.childOf(state, byte);
      if (target !== 0) return target;
      state = this.fail[state]!;
    }
  }

  private childOf(node: number, byte: number): number {
    let lo = this.edgeStart[node]!;
    let hi = this.edgeStart[node + 1]!;
    if (hi - lo <= 8) {
      for (; lo < hi; lo++) if (this.edgeByte[lo] === byte) return this.edgeTarget[lo]!;
      return 0;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.edgeByte[mid]!;
      if (b === byte) return this.edgeTarget[mid]!;
      if (b < byte) lo = mid + 1;
      else hi = mid;
    }
    return 0;
  }
}
