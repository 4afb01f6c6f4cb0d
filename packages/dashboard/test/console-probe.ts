/**
 * What the job console shows, read in the page: the text of its terminal's lines and the colours of
 * rendered cells, through xterm's buffer API on the Terminal the console hangs on its screen
 * element (`vmoConsole`), and the DOM renderer's spans (what the eye sees). Run with page.evaluate;
 * self-contained functions (Playwright sends their source).
 */
import type { Page } from 'playwright-core';

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
    const screen = document.querySelector('.job-console .screen') as HTMLElement & { vmoConsole?: { terminal: any } };
    const buffer = screen?.vmoConsole?.terminal.buffer.active;
    if (!buffer) return [];
    const lines: string[] = [];
    for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y).translateToString(true));
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  });
}

/** Waits until a console line contains `text`. */
export async function waitForConsoleText(page: Page, text: string, timeout = 45_000): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const screen = document.querySelector('.job-console .screen') as HTMLElement & { vmoConsole?: { terminal: any } };
      const buffer = screen?.vmoConsole?.terminal.buffer.active;
      if (!buffer) return false;
      for (let y = 0; y < buffer.length; y++) if (buffer.getLine(y).translateToString(true).includes(wanted)) return true;
      return false;
    },
    text,
    { timeout, polling: 100 },
  );
}

/** The look of the first cell of `text` where it first appears in the console. */
export function cellLook(page: Page, text: string): Promise<CellLook | undefined> {
  return page.evaluate((wanted) => {
    const screen = document.querySelector('.job-console .screen') as HTMLElement & { vmoConsole?: { terminal: any } };
    const terminal = screen?.vmoConsole?.terminal;
    if (!terminal) return undefined;
    const buffer = terminal.buffer.active;
    for (let y = 0; y < buffer.length; y++) {
      const line = buffer.getLine(y);
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
export function consoleStats(page: Page): Promise<{ lastSeq: number; chunks: number; receivedBytes: number; pauses: number; reconnects: number; parsed: number; backlog: number }> {
  return page.evaluate(() => {
    const screen = document.querySelector('.job-console .screen') as HTMLElement & { vmoConsole?: { stats: any; writer: any } };
    const c = screen.vmoConsole!;
    return { ...c.stats, parsed: c.writer.parsed, backlog: c.writer.backlog };
  });
}
