/**
 * What must not outlive an interrupted bench: running services (their own database and Redis
 * prefix) and load processes. Each registers a stop; Ctrl-C or SIGTERM runs them all, then exits.
 */
const stops = new Set<() => Promise<void> | void>();

export function registerCleanup(stop: () => Promise<void> | void): () => void {
  stops.add(stop);
  return () => stops.delete(stop);
}

export function cleanUpOnSignals(): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`bench: ${signal}: stopping services and load processes\n`);
    void Promise.allSettled([...stops].map((s) => s())).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
