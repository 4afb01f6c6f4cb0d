/**
 * A repeat within this long of the first signal is the same request arriving twice, not a second
 * one: Ctrl-C on `npm start` sends SIGINT to the terminal's whole process group (npm and node) and
 * npm forwards its own copy to node a moment later. Counting that copy would exit at once, undrained.
 */
const SAME_REQUEST_MS = 1000;

/** SIGTERM/SIGINT: run `stop` once and exit 0; a second signal (a second later or more) exits at once. */
export function onShutdownSignal(stop: () => Promise<void>): void {
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt < SAME_REQUEST_MS) return;
      process.exit(130);
    }
    firstAt = Date.now();
    process.stderr.write(`vmo: ${signal} received, shutting down\n`);
    stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`vmo: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
