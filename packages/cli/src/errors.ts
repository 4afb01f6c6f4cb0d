import { CommanderError } from 'commander';
import { VmoApiError, VmoStreamClosedError } from '@vmo/client';
import { ExitCode } from './exit-codes.ts';
import { colours } from './output/colour.ts';

/** An error a command reports as it is (a bad flag value, a missing context): message, code, no stack. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = ExitCode.cliError, readonly code = 'cli_error') {
    super(message);
  }
}

/** Print an error on stderr (the API's code and message when it is the API's) and return the exit code. */
export function reportError(err: unknown): number {
  // commander printed its own message (an unknown option, a missing argument) or the help.
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : ExitCode.usage;
  const { code, message, exitCode } = describe(err);
  process.stderr.write(`${colours(process.stderr).red(`vmo: ${code}:`)} ${message}\n`);
  return exitCode;
}

function describe(err: unknown): { code: string; message: string; exitCode: number } {
  if (err instanceof VmoApiError) return { code: err.code, message: err.message, exitCode: ExitCode.cliError };
  if (err instanceof CliError) return { code: err.code, message: err.message, exitCode: err.exitCode };
  if (err instanceof VmoStreamClosedError) return { code: 'stream_closed', message: err.message, exitCode: ExitCode.cliError };
  // fetch's "fetch failed" hides the reason (ECONNREFUSED, ENOTFOUND, a TLS error) in its cause.
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (err instanceof TypeError && cause) return { code: 'unreachable', message: `cannot reach the server: ${cause.code ?? cause.message ?? 'network error'}`, exitCode: ExitCode.cliError };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'error', message, exitCode: ExitCode.cliError };
}
