/** SIGTERM/SIGINT: run `stop` once and exit 0; a second signal exits at once. */
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
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
