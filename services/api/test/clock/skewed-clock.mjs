// Preloaded into an API process (NODE_OPTIONS=--import) to give it a wall clock VMO_TEST_CLOCK_SKEW_MS
// ahead of the machine's (and of Postgres'), as an API node whose clock drifted would have: Date.now()
// and `new Date()` shift; timers and performance.now() (monotonic) do not, as on a real machine.
const skewMs = Number(process.env.VMO_TEST_CLOCK_SKEW_MS ?? '0');
if (!Number.isFinite(skewMs)) throw new Error('VMO_TEST_CLOCK_SKEW_MS must be a number of milliseconds');
const RealDate = Date;
const now = () => RealDate.now() + skewMs;
globalThis.Date = new Proxy(RealDate, {
  construct: (target, args, newTarget) => Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget),
  apply: () => new RealDate(now()).toString(),
  get: (target, prop, receiver) => (prop === 'now' ? now : Reflect.get(target, prop, receiver)),
});
