import type { Terminal } from '@xterm/xterm';

/**
 * The console's keys: it takes no input, so the keys that would be typed into a terminal scroll it
 * instead (Page Up/Down, arrows, Home/End), and every other key is left to the browser (Tab moves
 * focus on, Ctrl+C copies the selection) instead of being swallowed as terminal input.
 */
export function consoleKeys(terminal: Terminal): (event: KeyboardEvent) => boolean {
  return (event) => {
    if (event.type !== 'keydown' || event.altKey || event.metaKey) return false;
    const scroll: Record<string, () => void> = {
      PageUp: () => terminal.scrollPages(-1),
      PageDown: () => terminal.scrollPages(1),
      ArrowUp: () => terminal.scrollLines(-1),
      ArrowDown: () => terminal.scrollLines(1),
      Home: () => terminal.scrollToTop(),
      End: () => terminal.scrollToBottom(),
    };
    const action = scroll[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
    return false;
  };
}
