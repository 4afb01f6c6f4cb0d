/** Polls until `check` returns something truthy; fails with `what` after the deadline. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
