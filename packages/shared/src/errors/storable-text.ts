import { badRequest, type AppError } from './app-error.ts';
import { findUnstorableText } from '../domain/storable-text.ts';

// The rule itself is a domain check (labels use it); errors only adds the 400 it answers with.
export { findUnstorableText, storableString, storableText, unstorableReason } from '../domain/storable-text.ts';

/** 400 validation_failed for the first unstorable text in `value`, named as `where` when at the top. */
export function assertStorableText(value: unknown, where = 'body'): void {
  const found = findUnstorableText(value);
  if (found) throw unstorableTextError(found.path || where, found.reason);
}

export const unstorableTextError = (field: string, reason: string): AppError => badRequest('validation_failed', `${field}: ${reason}`, { field });
