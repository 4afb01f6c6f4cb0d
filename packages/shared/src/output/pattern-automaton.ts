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
 * Size: one node per distinct beginning of a pattern, so at most 1 + the patterns' total bytes,
 * 17 bytes of typed arrays each, and 65 KiB of tables (the input limits keep a job's patterns under
 * 128 KiB: under 2.3 MB in all). Built once per job, in time linear in the patterns' bytes, and
 * shared by its two streams.
 */
/**
 * The prefilter: a job has a secret or two, and ordinary output contains none of them, so while
 * the automaton is at its root the masker jumps with native `indexOf` (several times faster than a
 * byte loop in JS) to the next place where some needle is: a pattern's first (up to
 * PREFILTER_NEEDLE_BYTES) bytes.
 *
 * Why that is exact: at the root at offset i, no end of the output is a beginning of a pattern. An
 * occurrence starting in [i, j), j the next place a needle is, would have its needle there: there
 * is none. A beginning still open at j started less than `needleSpan` (the longest needle) bytes
 * before it; if j is at least that far from the end of the data, every needle fits in the data
 * from that start and none is there, so it can never become an occurrence and starting afresh at j
 * loses nothing. So the masker jumps only to places before the last needleSpan - 1 bytes of a
 * write; those, where a beginning could be cut off by the end, go through the automaton byte by
 * byte.
 *
 * With many distinct needles (a key of many lines, each a pattern) the native searches would add
 * up to more than the byte loop: no prefilter then.
 */
export const PREFILTER_MAX_NEEDLES = 8;
/** Longer needles are found faster (a search skips further), and more rarely by accident. */
export const PREFILTER_NEEDLE_BYTES = 64;

export class PatternAutomaton {
  /** The longest pattern's length in bytes (0 when there are none). */
  readonly longest: number;
  readonly nodeCount: number;
  /** The root's transition for each byte (0: stay at the root). Node 0 is the root. */
  readonly rootNext: Int32Array;
  /**
   * `mayBegin[(b << 8) | c]`: an occurrence can begin at a byte b followed by c (a pattern begins
   * with b c, or is b alone). Off any pattern, a place where none can begin is skipped at once: a
   * beginning there would be dead a byte later, so this gives the states the automaton would have
   * (see the prefilter for the same argument, with two-byte needles), in half the time or less on
   * ordinary text, where the first byte alone of a pattern is everywhere.
   */
  readonly mayBegin: Uint8Array;
  readonly matchLength: Int32Array;
  readonly holdLength: Int32Array;
  /** The prefilter's needles (above); none when there are too many for it to pay. */
  readonly needles: readonly Buffer[];
  /** The longest needle's length. */
  readonly needleSpan: number;
  /**
   * Transitions taken by `next` (one per byte read off the root, plus one per failure link
   * followed): for tests to check that the work is linear in the bytes read.
   */
  steps = 0;
  /**
   * Nodes are numbered breadth first and a node's children are numbered together, in byte order:
   * node n's children are the nodes edgeStart[n] + 1 to edgeStart[n + 1], reached by the bytes
   * edgeByte[edgeStart[n]] to edgeByte[edgeStart[n + 1] - 1] (edge e leads to node e + 1).
   */
  private readonly edgeStart: Int32Array;
  private readonly edgeByte: Uint8Array;
  private readonly fail: Int32Array;

  constructor(patterns: Iterable<Uint8Array>, { maxNeedles = PREFILTER_MAX_NEEDLES } = {}) {
    // The patterns as latin1 strings (a character per byte), distinct and sorted: patterns that
    // begin alike are neighbours, and a pattern comes before those it begins. All the work below is
    // plain loops over them, in time linear in their bytes (a job's first build runs before the
    // JIT has compiled anything: no hashing, no callbacks).
    const unique = new Set<string>();
    for (const p of patterns) {
      if (p.length > 0) unique.add(Buffer.from(p.buffer, p.byteOffset, p.length).toString('latin1'));
    }
    const sorted = [...unique].sort();
    let total = 0;
    let longest = 0;
    for (const p of sorted) {
      total += p.length;
      if (p.length > longest) longest = p.length;
    }
    this.longest = longest;

    // The trie, a level at a time. A node of depth d stands for the patterns sorted[lo, hi) that
    // begin with its d bytes; its children split that range by the patterns' next byte.
    const size = total + 1; // nodes at most: one per distinct beginning, plus the root
    const parent = new Int32Array(size);
    const depth = new Int32Array(size);
    const terminal = new Uint8Array(size);
    const lo = new Int32Array(size);
    const hi = new Int32Array(size);
    const edgeStart = new Int32Array(size + 1);
    const edgeByte = new Uint8Array(size);
    hi[0] = sorted.length;
    let nodes = 1;
    for (let levelStart = 0, levelEnd = 1, d = 0; levelStart < levelEnd; levelStart = levelEnd, levelEnd = nodes, d++) {
      for (let node = levelStart; node < levelEnd; node++) {
        let k = lo[node]!;
        const end = hi[node]!;
        if (k < end && sorted[k]!.length === d) {
          terminal[node] = 1; // the pattern that is exactly this node's bytes (sorted first)
          k++;
        }
        edgeStart[node] = nodes - 1;
        while (k < end) {
          const byte = sorted[k]!.charCodeAt(d);
          const from = k;
          for (k++; k < end && sorted[k]!.charCodeAt(d) === byte; k++);
          parent[nodes] = node;
          depth[nodes] = d + 1;
          edgeByte[nodes - 1] = byte;
          lo[nodes] = from;
          hi[nodes] = k;
          nodes++;
        }
      }
    }
    edgeStart[nodes] = nodes - 1;
    this.nodeCount = nodes;
    // (Sized for patterns sharing no beginning; kept at the size they turned out to need.)
    this.edgeStart = nodes < size ? edgeStart.slice(0, nodes + 1) : edgeStart;
    this.edgeByte = nodes < size ? edgeByte.slice(0, nodes) : edgeByte;
    const rootNext = new Int32Array(256);
    for (let e = edgeStart[0]!; e < edgeStart[1]!; e++) rootNext[edgeByte[e]!] = e + 1;
    this.rootNext = rootNext;

    // Failure links in breadth-first order (a node's link is shallower, so already done), and with
    // them the two per-state facts, each taken from the link when the node itself does not settle it.
    const fail = new Int32Array(nodes);
    const matchLength = new Int32Array(nodes);
    const holdLength = new Int32Array(nodes);
    this.fail = fail;
    for (let node = 1; node < nodes; node++) {
      const link = parent[node] === 0 ? 0 : this.next(fail[parent[node]!]!, edgeByte[node - 1]!);
      fail[node] = link;
      matchLength[node] = terminal[node] === 1 ? depth[node]! : matchLength[link]!;
      // A node with children is a proper beginning of some pattern: all of it could still grow.
      holdLength[node] = edgeStart[node + 1]! > edgeStart[node]! ? depth[node]! : holdLength[link]!;
    }
    this.matchLength = matchLength;
    this.holdLength = holdLength;
    this.steps = 0; // the build's own lookups read no stream

    const mayBegin = new Uint8Array(65536);
    for (const p of sorted) {
      if (p.length >= 2) mayBegin[(p.charCodeAt(0) << 8) | p.charCodeAt(1)] = 1;
      else mayBegin.fill(1, p.charCodeAt(0) << 8, (p.charCodeAt(0) + 1) << 8);
    }
    this.mayBegin = mayBegin;

    const needles = new Set<string>();
    for (const p of sorted) {
      if (needles.size > maxNeedles) break;
      needles.add(p.slice(0, PREFILTER_NEEDLE_BYTES));
    }
    this.needles = needles.size <= maxNeedles ? [...needles].map((needle) => Buffer.from(needle, 'latin1')) : [];
    this.needleSpan = Math.max(0, ...this.needles.map((needle) => needle.length));
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
      for (; lo < hi; lo++) if (this.edgeByte[lo] === byte) return lo + 1;
      return 0;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.edgeByte[mid]!;
      if (b === byte) return mid + 1;
      if (b < byte) lo = mid + 1;
      else hi = mid;
    }
    return 0;
  }
}
