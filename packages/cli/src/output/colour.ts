/**
 * Colour, only where a person reads it: the stream is a terminal and `NO_COLOR` is not set to
 * anything (https://no-color.org). Pipes, files and CI logs get plain text.
 */
export interface Colours {
  enabled: boolean;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function colourEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

const sgr = (on: boolean, open: number, close: number) => (text: string) => (on ? `\x1b[${open}m${text}\x1b[${close}m` : text);

/** The colours of one stream (`colours(process.stderr)`): each function returns the text as is when colour is off. */
export function colours(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): Colours {
  const on = colourEnabled(stream, env);
  return { enabled: on, red: sgr(on, 31, 39), green: sgr(on, 32, 39), yellow: sgr(on, 33, 39), dim: sgr(on, 2, 22), bold: sgr(on, 1, 22) };
}
