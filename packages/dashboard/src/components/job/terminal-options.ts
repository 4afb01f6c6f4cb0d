import type { ITerminalOptions } from '@xterm/xterm';

/** The narrowest the terminal gets, however narrow the screen (JobConsole's refit says why). */
export const MIN_COLUMNS = 80;

/** Lines kept above the screen: beyond them the oldest go, so a console's memory stays bounded. */
export const SCROLLBACK_LINES = 10_000;

/**
 * The console's terminal: read-only, dark in both colour schemes (as the --console-bg of app.css),
 * ANSI colours from GitHub's dark palette so red, green and yellow read on it.
 */
export const TERMINAL_OPTIONS: ITerminalOptions = {
  // Output written with "\n" alone (no pty turned it into "\r\n") starts its lines at column 0.
  convertEol: true,
  scrollback: SCROLLBACK_LINES,
  disableStdin: true,
  cursorBlink: false,
  cursorStyle: 'bar',
  cursorInactiveStyle: 'none',
  fontFamily: "'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace",
  fontSize: 13,
  lineHeight: 1.15,
  theme: {
    background: '#0d1117',
    foreground: '#e6edf3',
    cursor: '#e6edf3',
    selectionBackground: '#264f78',
    black: '#484f58',
    red: '#ff7b72',
    green: '#3fb950',
    yellow: '#d29922',
    blue: '#58a6ff',
    magenta: '#bc8cff',
    cyan: '#39c5cf',
    white: '#b1bac4',
    brightBlack: '#6e7681',
    brightRed: '#ffa198',
    brightGreen: '#56d364',
    brightYellow: '#e3b341',
    brightBlue: '#79c0ff',
    brightMagenta: '#d2a8ff',
    brightCyan: '#56d4dd',
    brightWhite: '#f0f6fc',
  },
};
