import type { HttpErrorCode } from '@vmo/shared/errors';

/**
 * The API refused a request (or a stream upgrade): the status, and the stable `code` and the
 * `message` of its error body. `code` is `unexpected_response` when the answer was not an API error
 * body (a proxy's page, say).
 */
export class VmoApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode | 'unexpected_response',
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'VmoApiError';
  }

  /** Worth retrying as it is: a store was down (503), or too many connections (429). */
  get retryable(): boolean {
    return this.status === 503 || this.status === 429;
  }
}

/** The job stream closed with a code that does not mean "resume" (1008, 1009, 4404, …) before the job's end. */
export class VmoStreamClosedError extends Error {
  constructor(
    readonly closeCode: number,
    readonly reason: string,
  ) {
    super(`the job stream closed with ${closeCode}${reason ? ` (${reason})` : ''} before the job ended`);
    this.name = 'VmoStreamClosedError';
  }
}

/** A 2xx answer that does not fit its contract's schema (only with `validateResponses`). */
export class VmoResponseError extends Error {
  constructor(
    readonly route: string,
    readonly issues: string,
  ) {
    super(`${route} answered a body its contract does not describe: ${issues}`);
    this.name = 'VmoResponseError';
  }
}

/** The error body of a refused request, or a stand-in when the answer was not one. */
export function apiError(status: number, text: string): VmoApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } };
    if (typeof body.error?.code === 'string' && typeof body.error.message === 'string') {
      return new VmoApiError(status, body.error.code as HttpErrorCode, body.error.message, body.error.details);
    }
  } catch {
    // not JSON: below
  }
  return new VmoApiError(status, 'unexpected_response', `HTTP ${status}: ${text.slice(0, 200)}`);
}
