import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { inBackground, repeatInBackground } from './background.ts';

/** A logger whose lines the test can read. */
function capturedLogger() {
  const lines: { level: number; msg: string; err?: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const until = async (what: string, probe: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('inBackground', () => {
  it('logs a failure under its name instead of leaving the rejection unhandled', async () => {
    const { log, lines } = capturedLogger();
    inBackground(log, 'presence refresh', Promise.reject(new Error('connect ECONNRESET')));
    await until('the log line', () => lines.length > 0);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'presence refresh failed', err: 'connect ECONNRESET' });
  });
});

describe('repeatInBackground', () => {
  it('never overlaps a slow run, carries on after a failed one, and stop() waits for the run under way', async () => {
    const { log, lines } = capturedLogger();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release: () => void = () => {};
    const loop = repeatInBackground(log, 'sweep', 1, async () => {
      runs++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        if (runs === 1) throw new Error('Postgres unreachable');
        if (runs === 3) await new Promise<void>((r) => (release = r)); // slower than many intervals
      } finally {
        running--;
      }
    });
    await until('the third run to start', () => runs === 3);
    // Many intervals pass while the third run hangs: no fourth run starts beside it.
    const runsWhileHanging = runs;
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toBe(runsWhileHanging);
    release();
    await until('more runs after the slow one', () => runs >= 5);
    expect(maxRunning).toBe(1);
    expect(lines.filter((l) => l.msg === 'sweep failed')).toEqual([expect.objectContaining({ level: 40, err: 'Postgres unreachable' })]);

    await loop.stop();
  });

  it('stop() waits for the run under way, and no run starts after it', async () => {
    const { log } = capturedLogger();
    let runs = 0;
    let finished = false;
    let release: () => void = () => {};
    const loop = repeatInBackground(log, 'slow', 1, async () => {
      runs++;
      await new Promise<void>((r) => (release = r));
      finished = true;
    });
    await until('the first run to start', () => runs === 1);
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toBe(1);
  });
});

describe('repeatInBackground with a run that never settles', () => {
  it('logs it and goes on with the next runs', async () => {
    const { log, lines } = capturedLogger();
    let runs = 0;
    const loop = repeatInBackground(log, 'janitor', 1, () => (++runs === 1 ? new Promise(() => {}) : Promise.resolve()), { stuckAfterMs: 30 });
    await until('runs after the stuck one', () => runs >= 3);
    await loop.stop();
    expect(lines.filter((l) => l.msg === 'janitor has not finished; going on without it')).toEqual([expect.objectContaining({ level: 50 })]);
  });
});

describe('logUnhandledRejections', () => {
  it('keeps the process running and logs the rejection at error level with its stack', async () => {
    const script = `
      import { pino } from 'pino';
      import { logUnhandledRejections } from ${JSON.stringify(fileURLToPath(new URL('./background.ts', import.meta.url)))};
      logUnhandledRejections(pino());
      Promise.reject(new Error('connect ECONNRESET 127.0.0.1:1'));
      setTimeout(() => { console.log('still running'); process.exit(0); }, 100);
    `;
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)) }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(stdout).toContain('still running');
    expect(code).toBe(0);
    const line = JSON.parse(stdout.split('\n').find((l) => l.includes('unhandled rejection'))!);
    expect(line).toMatchObject({ level: 50, err: { message: 'connect ECONNRESET 127.0.0.1:1' } });
    expect(line.err.stack).toContain('Error: connect ECONNRESET');
  });
});
