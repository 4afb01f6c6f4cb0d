import { execFile } from 'node:child_process';

/** A command's failure: its argv[0..1] and the end of its stderr (never its full argv: it may hold paths only). */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
  constructor(
    message: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/**
 * Runs a program (no shell: every argument is passed as is) and answers its stdout; a non-zero exit
 * throws CommandFailed with the last lines of stderr. The signal kills it (the op was canceled).
 */
export function run(file: string, args: string[], opts: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { signal: opts.signal, env: opts.env, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).name === 'AbortError') return reject(err);
      const tail = stderr.trim().split('\n').slice(-5).join('\n');
      const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
      reject(new CommandFailed(`${file} ${args.slice(0, 2).join(' ')} failed${code !== null ? ` (exit ${code})` : ''}: ${tail || err.message}`, code, stderr));
    });
  });
}
