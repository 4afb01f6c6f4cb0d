import { constants, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, sep } from 'node:path';

/** OpenSSH private keys are a few KiB (RSA 16384 is ~13 KiB); anything bigger is not a key. */
export const MAX_KEY_BYTES = 64 * 1024;

/**
 * Key reads in flight at once, process-wide. Every fs call goes through libuv's thread pool (4
 * threads by default, shared with DNS lookups and all other file I/O). The checks below make a
 * read that blocks impossible for FIFOs and devices; this bound covers what is left (a hung
 * network or FUSE mount under a key directory): at most this many pool threads can ever be stuck
 * on key files, and later reads fail at their deadline instead of queueing behind them.
 */
const MAX_READS_IN_FLIGHT = 2;

/** Why a key file was refused: for the worker's log only (see KeyFileRules). */
export class KeyFileRefused extends Error {}

export interface KeyFileRules {
  /** VMO_SSH_KEY_DIRS: the file's real path (symlinks resolved) must lie inside one of these. */
  dirs: string[];
  /** The whole read, waiting for a slot included. */
  deadlineMs: number;
  maxBytes?: number;
}

/**
 * Read an identity file named by an inventory host, which anyone who may create hosts controls.
 *
 * LOUD: the path is hostile input. It is accepted only if its real path is inside a key directory
 * and it is a regular file of at most `maxBytes`: `/dev/zero` would grow the worker without bound,
 * a FIFO would block a thread-pool thread forever (four of them stall every SSH job and DNS
 * lookup of the process). So: type and size are checked with stat before opening; the open is
 * O_NONBLOCK (a FIFO swapped in meanwhile cannot block it) and O_NOFOLLOW; fstat then confirms it
 * is the same regular file; at most maxBytes + 1 bytes are ever read. The whole read races a
 * deadline. Every refusal throws KeyFileRefused with the precise reason; the caller turns all of
 * them into one message, so the job's reader cannot tell a missing file from a forbidden one.
 */
export function readIdentityFile(path: string, rules: KeyFileRules): Promise<Buffer> {
  const maxBytes = rules.maxBytes ?? MAX_KEY_BYTES;
  return withDeadline(rules.deadlineMs, async (expired) => {
    const release = await slots.take(expired);
    try {
      return await readChecked(path, rules.dirs, maxBytes);
    } finally {
      release();
    }
  });
}

async function readChecked(path: string, dirs: string[], maxBytes: number): Promise<Buffer> {
  if (!isAbsolute(path)) throw new KeyFileRefused('not an absolute path');
  const real = await realpath(path).catch((err: Error) => refuse(`cannot resolve it: ${err.message}`));
  if (!(await insideAny(real, dirs))) throw new KeyFileRefused(`its real path ${real} is outside VMO_SSH_KEY_DIRS (${dirs.join(':')})`);
  const before = await stat(real).catch((err: Error) => refuse(`cannot stat it: ${err.message}`));
  checkRegular(before, maxBytes);
  const fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY).catch((err: Error) => refuse(`cannot open it: ${err.message}`));
  try {
    const now = await fh.stat();
    if (now.dev !== before.dev || now.ino !== before.ino) throw new KeyFileRefused('it was replaced while being opened');
    // O_NOFOLLOW guards only the last component: a directory above it swapped for a symlink
    // between realpath and open would lead out of the key dirs. Ask the kernel where the open
    // file really is, and check that.
    const opened = await realpath(`/proc/self/fd/${fh.fd}`).catch(() => real);
    if (!(await insideAny(opened, dirs))) throw new KeyFileRefused(`the file opened is ${opened}, outside VMO_SSH_KEY_DIRS`);
    checkRegular(now, maxBytes);
    return await readAtMost(fh, maxBytes);
  } finally {
    await fh.close().catch(() => {});
  }
}

function checkRegular(st: Stats, maxBytes: number): void {
  if (!st.isFile()) throw new KeyFileRefused(`not a regular file (${kindOf(st)})`);
  if (st.size > maxBytes) throw new KeyFileRefused(`${st.size} bytes, more than the ${maxBytes} a key file may have`);
}

/** A file may grow after fstat: read one byte more than allowed to notice. */
async function readAtMost(fh: FileHandle, maxBytes: number): Promise<Buffer> {
  const buf = Buffer.alloc(maxBytes + 1);
  let total = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, total, buf.length - total, total);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > maxBytes) throw new KeyFileRefused(`it grew past ${maxBytes} bytes while being read`);
  }
  return buf.subarray(0, total);
}

async function insideAny(real: string, dirs: string[]): Promise<boolean> {
  for (const dir of dirs) {
    const realDir = await realpath(dir).catch(() => undefined); // a key dir that does not exist holds nothing
    if (realDir === undefined) continue;
    const prefix = realDir.endsWith(sep) ? realDir : realDir + sep;
    if (real.startsWith(prefix)) return true;
  }
  return false;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a plain file';
}

function refuse(reason: string): never {
  throw new KeyFileRefused(reason);
}

/**
 * Runs `work`; rejects with KeyFileRefused after `ms` even if it is still stuck. `expired` lets the
 * work give up waiting for a slot; a thread-pool call already started finishes on its own.
 */
function withDeadline<T>(ms: number, work: (expired: Promise<void>) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  const late = expired.then((): never => refuse(`not read within ${ms} ms`));
  const run = work(expired);
  run.catch(() => {}); // after the deadline, its outcome is nobody's business
  return Promise.race([run, late]).finally(() => clearTimeout(timer));
}

/** A counting semaphore whose waiters leave when their deadline expires. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }

  async take(expired: Promise<void>): Promise<() => void> {
    if (this.free > 0) {
      this.free--;
      return this.releaser();
    }
    let grant!: () => void;
    const granted = new Promise<void>((resolve) => {
      grant = resolve;
      this.waiting.push(grant);
    });
    const gaveUp = expired.then(() => 'expired' as const);
    if ((await Promise.race([granted.then(() => 'granted' as const), gaveUp])) === 'expired') {
      const i = this.waiting.indexOf(grant);
      if (i >= 0) this.waiting.splice(i, 1);
      else this.releaser()(); // granted at the same moment: pass the slot on
      throw new KeyFileRefused('no key-read slot within the deadline (earlier reads are stuck)');
    }
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

const slots = new Slots(MAX_READS_IN_FLIGHT);
