import { HTTP_ERRORS, type HttpErrorCode, type HttpErrorCodeFor, type HttpErrorStatus } from './error-codes.ts';

/**
 * The one error type the HTTP layer turns into `{"error":{"code","message"}}`.
 * `code` is stable (clients branch on it) and registered in HTTP_ERRORS with its status, which the
 * types enforce: `new AppError(409, 'not_found', …)` does not compile. `message` is for people and
 * says what to do.
 */
export class AppError<C extends HttpErrorCode = HttpErrorCode> extends Error {
  readonly status: HttpErrorStatus;

  constructor(
    status: (typeof HTTP_ERRORS)[C]['status'],
    readonly code: C,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = status;
  }

  /** Expected errors are the caller's doing and log at warn; the rest at error with a stack. */
  get expected(): boolean {
    return this.status < 500;
  }
}

export const badRequest = (code: HttpErrorCodeFor<400>, message: string, details?: Record<string, unknown>) =>
  new AppError(400, code, message, details);
export const unauthorized = (message = 'a valid bearer token is required') =>
  new AppError(401, 'unauthorized', message);
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const notFound = (what: string, id: string) =>
  new AppError(404, 'not_found', `${what} ${JSON.stringify(id)} does not exist`);
export const conflict = (code: HttpErrorCodeFor<409>, message: string) => new AppError(409, code, message);
export const payloadTooLarge = (limit: number) =>
  new AppError(413, 'payload_too_large', `the request body is over the limit of ${limit} bytes`);
export const unavailable = (message: string) => new AppError(503, 'unavailable', message);
