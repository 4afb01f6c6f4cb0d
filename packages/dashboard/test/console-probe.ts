/**
 * What the job console shows, read in the page: the text of its terminal's lines and the colours of
 * rendered cells, through xterm's buffer API on the Terminal the console hangs on its screen
 * element (`vmoConsole`, JobConsole.svelte), and the DOM renderer's spans (what the eye sees).
 *
 * Every function here runs its body in the page (page.evaluate / waitForFunction): Playwright sends
 * the function's source, so each is self-contained. The types below are erased before that, which
 * is why they, and only they, are shared.
 */
import type { Page } from 'playwright-core';

/** The part of xterm's buffer API read here. */
interface BufferProbe {
  length: number;
  baseY: number;
  getLine(y: number): { translateToString(trimRight: boolean): string; getCell(x: number): any } | undefined;
}

/** What JobConsole hangs on its screen element (`.job-console .screen`). */
interface VmoConsole {
  terminal: { buffer: { active: BufferProbe } };
  stats: { lastSeq: number; chunks: number; receivedBytes: number; pauses: number; reconnects: number };
  writer: { parsed: number; backlog: number; push(parts: Uint8Array[]): void };
}
type ConsoleScreen = HTMLElement & { vmoConsole?: VmoConsole };

/** The state of a synthetic write (startSyntheticWrite) the page keeps on `window`. */
type SyntheticWindow = Window & { synthetic?: { done: boolean; parsedAtStart: number; ms: number } };

export interface CellLook {
  /** xterm's view of the cell. */
  fgMode: 'default' | 'palette' | 'rgb';
  fg: number;
  bgMode: 'default' | 'palette' | 'rgb';
  bg: number;
  /** The computed colours of the DOM renderer's span holding the text. */
  spanColor: string | undefined;
  spanBackground: string | undefined;
}

/** The console's lines (its whole buffer, scrollback included), trailing blank lines left out. */
export function consoleLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const buffer = document.querySelector<ConsoleScreen>('.job-console .screen')?.vmoConsole?.terminal.buffer.active;
    if (!buffer) return [];
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y)!.translateToString(true));
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  });
}

/** Waits until a console line contains `text`. */
export async function waitForConsoleText(page: Page, text: string, timeout = 45_000): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const buffer = document.querySelector<ConsoleScreen>('.job-console .screen')?.vmoConsole?.terminal.buffer.active;
      if (!buffer) return false;
      for (let y = 0; y < buffer.length; y++) if (buffer.getLine(y)!.translateToString(true).includes(wanted)) return true;
      return false;
    },
    text,
    { timeout, polling: 100 },
  );
}

/** The look of the first cell of `text` where it first appears in the console. */
export function cellLook(page: Page, text: string): Promise<CellLook | undefined> {
  return page.evaluate((wanted) => {
    const screen = document.querySelector<ConsoleScreen>('.job-console .screen');
    const buffer = screen?.vmoConsole?.terminal.buffer.active;
    if (!screen || !buffer) return undefined;
    for (let y = 0; y < buffer.length; y++) {
      const line = buffer.getLine(y)!;
      const x = line.translateToString(true).indexOf(wanted);
      if (x < 0) continue;
      const cell = line.getCell(x);
      const mode = (isDefault: boolean, isPalette: boolean) => (isDefault ? 'default' : isPalette ? 'palette' : 'rgb') as 'default' | 'palette' | 'rgb';
      // The DOM renderer draws runs of cells that look alike as one span each.
      const span = [...screen.querySelectorAll('.xterm-rows span')].find((s) => s.textContent?.includes(wanted));
      const style = span ? getComputedStyle(span) : undefined;
      return {
        fgMode: mode(cell.isFgDefault(), cell.isFgPalette()),
        fg: cell.getFgColor(),
        bgMode: mode(cell.isBgDefault(), cell.isBgPalette()),
        bg: cell.getBgColor(),
        spanColor: style?.color,
        spanBackground: style?.backgroundColor,
      };
    }
    return undefined;
  }, text);
}

/** The console's feed counters (console-feed.ts FeedStats) and what its writer has had parsed. */
export function consoleStats(page: Page): Promise<VmoConsole['stats'] & { parsed: number; backlog: number }> {
  return page.evaluate(() => {
    const c = document.querySelector<ConsoleScreen>('.job-console .screen')!.vmoConsole!;
    return { ...c.stats, parsed: c.writer.parsed, backlog: c.writer.backlog };
  });
}

/** Waits until the console has more than a screenful (Follow can pause only then: before, there is nothing to scroll). */
export async function waitForScrollback(page: Page, timeout = 60_000): Promise<void> {
  await page.waitForFunction(() => (document.querySelector<ConsoleScreen>('.job-console .screen')?.vmoConsole?.terminal.buffer.active.baseY ?? 0) > 0, undefined, { timeout });
}

/** Waits until the console received `bytes` in all and has nothing left waiting to be parsed. */
export async function waitForCaughtUp(page: Page, bytes: number, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    (total) => {
      const c = document.querySelector<ConsoleScreen>('.job-console .screen')?.vmoConsole;
      return c !== undefined && c.stats.receivedBytes === total && c.writer.backlog === 0;
    },
    bytes,
    { timeout, polling: 200 },
  );
}

/**
 * Writes `text` straight into the console's writer ten times a second for `seconds`, bypassing the
 * stream: the page's own ceiling. Returns the bytes of one write; `syntheticDone` says when all are pushed.
 */
export function startSyntheticWrite(page: Page, text: string, seconds: number): Promise<number> {
  return page.evaluate(
    ({ bytes, seconds }) => {
      const c = document.querySelector<ConsoleScreen>('.job-console .screen')!.vmoConsole!;
      const data = new TextEncoder().encode(bytes);
      const w = window as SyntheticWindow;
      const synthetic = { done: false, parsedAtStart: c.writer.parsed, ms: 0 };
      w.synthetic = synthetic;
      const t0 = performance.now();
      let sent = 0;
      const timer = setInterval(() => {
        c.writer.push([data.slice()]);
        if (++sent === seconds * 10) {
          clearInterval(timer);
          synthetic.ms = performance.now() - t0;
          synthetic.done = true;
        }
      }, 100);
      return data.length;
    },
    { bytes: text, seconds },
  );
}

export function syntheticDone(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as SyntheticWindow).synthetic?.done === true);
}

/** Waits until the console parsed `total` bytes more than when the synthetic write started, with nothing left waiting. */
export async function waitForSyntheticParsed(page: Page, total: number, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    (bytes) => {
      const c = document.querySelector<ConsoleScreen>('.job-console .screen')?.vmoConsole;
      const synthetic = (window as SyntheticWindow).synthetic;
      return c !== undefined && synthetic !== undefined && c.writer.backlog === 0 && c.writer.parsed - synthetic.parsedAtStart === bytes;
    },
    total,
    { timeout, polling: 100 },
  );
}
