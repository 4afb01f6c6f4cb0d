import type { Colours } from '../output/colour.ts';

export interface Progress {
  done: number;
  total: number;
  /** Children that ended without succeeding (failed, timed_out, lost, canceled, skipped). */
  failed: number;
  running: number;
}

const WIDTH = 24;

/**
 * One line on a terminal (stderr), redrawn in place: `[██████░░░░] 3/10 done · 1 failed · 2 running`.
 * Whoever writes other lines to the same terminal clears it first (`clear()`) and redraws it after
 * (`redraw()`), so the bar stays the last line.
 */
export class ProgressBar {
  private line = '';
  private shown = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly c: Colours,
  ) {}

  update(p: Progress): void {
    this.line = render(p, this.c);
    this.redraw();
  }

  clear(): void {
    if (this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }

  redraw(): void {
    if (!this.line) return;
    this.out.write(`\r\x1b[2K${this.line}`);
    this.shown = true;
  }

  /** Leave the last state on its own line. */
  finish(): void {
    if (!this.line) return;
    this.redraw();
    this.out.write('\n');
    this.shown = false;
    this.line = '';
  }
}

export function render(p: Progress, c: Colours): string {
  const filled = p.total === 0 ? WIDTH : Math.round((p.done / p.total) * WIDTH);
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}]`;
  const failed = `${p.failed} failed`;
  return `${bar} ${p.done}/${p.total} done · ${p.failed > 0 ? c.red(failed) : failed} · ${p.running} running`;
}
