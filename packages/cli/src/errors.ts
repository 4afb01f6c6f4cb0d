import { CommanderError } from 'commander';
import { VmoApiError } from '@vmo/client';
import { ExitCode } from './exit-codes.ts';

/** An error a command reports as it is (a bad flag value, a missing context): message, code, no stack. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = ExitCode.cliError, readonly code = 'cli_error') {
    super(message);
  }
}

/** Print an error on stderr (the API's code and message when it is the API's) and return the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : ExitCode.usage;
  if (err instanceof VmoApiError) {
    process.stderr.write(`vmo: ${err.code}: ${err.message}\n`);
    return ExitCode.cliError;
  }
  if (err instanceof CliError) {
    process.stderr.write(`vmo: ${err.code}: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`vmo: error: ${message}\n`);
  return ExitCode.cliError;
}
