/**
 * Issue 17, must hold: `vim -u NONE` on a real agent's PTY enters the alternate screen and, after a
 * resize, draws its ruler on the new last row. Checked on a terminal's screen (@xterm/headless fed
 * the bytes the client received), not on the byte stream: what a user would see.
 */
import { Terminal } from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem, waitFor } from '@vmo/testkit';
import { opened, openShell, type ShellClient } from './shell-client.ts';

/** A headless terminal kept in step with what a shell client received. */
class Screen {
  readonly term: Terminal;
  private fed = 0;

  constructor(private readonly client: ShellClient, cols: number, rows: number) {
    this.term = new Terminal({ cols, rows, allowProposedApi: true });
  }

  /** Parse everything received so far. */
  async catchUp(): Promise<void> {
    const bytes = this.client.bytes();
    if (bytes.length === this.fed) return;
    const next = bytes.subarray(this.fed);
    this.fed = bytes.length;
    await new Promise<void>((resolve) => this.term.write(next, resolve));
  }

  /** The visible rows, top to bottom. */
  rows(): string[] {
    const buffer = this.term.buffer.active;
    return Array.from({ length: this.term.rows }, (_, y) => buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
  }

  async waitFor<T>(what: string, probe: (s: Screen) => T | undefined): Promise<T> {
    return waitFor(what, async () => {
      await this.catchUp();
      return probe(this);
    }, 30_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}; the screen (${this.term.buffer.active.type}):\n${this.rows().map((r, i) => `${String(i).padStart(2)}|${r}`).join('\n')}`);
    });
  }
}

/** vim's ruler with -u NONE on an empty buffer: line,column then the position in the file. */
const RULER = /0,0-1\s+All\s*$/;

describe('vim -u NONE on an agent\'s PTY, seen on a headless terminal', () => {
  let system: TestSystem;
  const clients: ShellClient[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ label: 'shell_vim' });
    await system.startAgent('vim-box');
  }, 180_000);
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await system?.stop();
  });

  it('enters the alternate screen, draws the ruler on the last row, and on the new last row after a resize; :q! leaves it', async () => {
    const c = opened(await openShell(system.apiUrls[0]!, 'vim-box', system.token, { cols: 80, rows: 24, command: "vim -u NONE -N -c 'set ruler' -c 'set noshowmode'" }));
    clients.push(c);
    const screen = new Screen(c, 80, 24);
    await screen.waitFor('vim on the alternate screen with its ruler on row 24', (s) => (s.term.buffer.active.type === 'alternate' && RULER.test(s.rows()[23]!)) || undefined);
    // The empty buffer's lines are drawn as `~` (what a user recognises as vim).
    expect(screen.rows()[1]).toMatch(/^~\s*$/);

    screen.term.resize(100, 40);
    c.control({ type: 'resize', cols: 100, rows: 40 });
    const rows = await screen.waitFor('the ruler on the new last row (40)', (s) => (RULER.test(s.rows()[39]!) ? s.rows() : undefined));
    expect(screen.term.buffer.active.type).toBe('alternate');
    // Only the last row has it: vim redrew for 40 rows, the old last row is a `~` line now.
    expect(rows.filter((r) => RULER.test(r))).toHaveLength(1);
    expect(rows[23]).toMatch(/^~\s*$/);
    // Its ruler is at the right of the 100 columns, beyond where 80 would have put it.
    expect(rows[39]!.trimEnd().length).toBeGreaterThan(80);

    c.send('\x1b:q!\r');
    expect(await c.waitForExit()).toEqual({ type: 'exit', code: 0, signal: null });
    await screen.waitFor('back on the normal screen', (s) => s.term.buffer.active.type === 'normal' || undefined);
  });
});
