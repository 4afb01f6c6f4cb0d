import { AppError } from './app-error.ts';
import type { HttpErrorCode } from './error-codes.ts';

export interface ErrorBody {
  error: { code: HttpErrorCode; message: string; details?: Record<string, unknown> };
}

/** The JSON body for any error; unknown errors never leak their message or stack. */
export function errorBody(err: unknown): ErrorBody {
  if (err instanceof AppError) {
    return { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
  }
  return { error: { code: 'internal', message: 'internal error; see the server log' } };
}
