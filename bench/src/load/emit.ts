/**
 * The load processes' side of the wire: one JSON object per stdout line (`{"event": …}`), the
 * last being `result`. Arguments arrive as one JSON argv. Every load process has a hard deadline
 * and exits by itself, so a stuck scenario never leaves load running behind it.
 */
export function emit(event: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}

export function loadArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

export function exitAfter(ms: number, what: string): void {
  setTimeout(() => {
    emit('error', { message: `${what}: deadline of ${ms} ms passed` });
    process.exit(3);
  }, ms).unref();
}

/** Report the result and leave, even if sockets or timers are still open. */
export function finish(data: Record<string, unknown>): never {
  process.stdout.write(JSON.stringify({ event: 'result', ...data }) + '\n', () => process.exit(0));
  // Keep the event loop alive until the write callback exits the process.
  setInterval(() => {}, 1000);
  return undefined as never;
}
