import { CliError } from '../errors.ts';

/**
 * The token for `vmo login` when --token is not given, so it need not be on a command line (where
 * `ps` and the shell's history show it): typed at a prompt that does not echo it on a terminal, or
 * read from stdin (`vmo login --server URL < token-file`, `pass vmo | vmo login --server URL`).
 */
export async function readToken(): Promise<string> {
  const token = process.stdin.isTTY ? await prompt('Token: ') : await readAll();
  const trimmed = token.trim();
  if (trimmed === '') throw new CliError('no token given: pass it on stdin, type it at the prompt, or give --token');
  return trimmed;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A line typed on the terminal without echo (raw mode), ended by Enter; Ctrl-C aborts. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let typed = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\x03') return done(new CliError('interrupted', 130, 'interrupted'));
        if (ch === '\x7f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}
