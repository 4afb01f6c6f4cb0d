// Writes `total` bytes to stdout in 1,024-byte lines, each starting with the wall-clock time it
// was written (17 characters, ms with 3 decimals), so a reader can compute each chunk's lag.
// Blocks of 64 lines, written synchronously: a full pipe holds the writer, so the times are
// those at which the consumer took the bytes, not those of a runaway producer.
import { writeSync } from 'node:fs';

const total = Number(process.argv[2] ?? 1048576);
const LINE = 1024;
const PER_BLOCK = 64;
const filler = Buffer.alloc(LINE - 18, 'x');
let written = 0;
while (written < total) {
  const lines = Math.min(PER_BLOCK, Math.ceil((total - written) / LINE));
  const block = Buffer.allocUnsafe(lines * LINE);
  for (let i = 0; i < lines; i++) {
    const ts = (performance.timeOrigin + performance.now()).toFixed(3).padStart(17, '0');
    block.write(ts, i * LINE, 'latin1');
    block[i * LINE + 17] = 0x20;
    filler.copy(block, i * LINE + 18);
    block[i * LINE + LINE - 1] = 0x0a;
  }
  const out = block.subarray(0, Math.min(block.length, total - written));
  let off = 0;
  while (off < out.length) {
    try {
      off += writeSync(1, out, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
  written += out.length;
}
