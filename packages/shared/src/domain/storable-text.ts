import { z } from 'zod';

// The rule itself has no zod in it (unstorable-reason.ts): the bundled agent checks its labels with it.
export { unstorableReason } from './unstorable-reason.ts';
import { unstorableReason } from './unstorable-reason.ts';

/** Adds the storable-text check to a string schema; `subject` prefixes the message ("values must …"). */
export function storableText<S extends z.ZodString>(schema: S, subject?: string): S {
  return schema.superRefine((text, ctx) => {
    const reason = unstorableReason(text);
    if (reason) ctx.addIssue({ code: 'custom', message: subject ? `${subject} ${reason}` : reason });
  }) as S;
}

/** `z.string()` that only accepts text Postgres can store. */
export const storableString = (params?: Parameters<typeof z.string>[0]) => storableText(z.string(params));

/**
 * The first string (a value or an object key) in a parsed JSON value that Postgres could not store,
 * with its dotted path. A safety net behind the schemas: a field added without `storableString`
 * still never reaches Postgres with such text.
 */
export function findUnstorableText(value: unknown, path: (string | number)[] = []): { path: string; reason: string } | undefined {
  if (typeof value === 'string') {
    const reason = unstorableReason(value);
    return reason ? { path: path.join('.'), reason } : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const keyReason = unstorableReason(key);
      // A bad key is named by a printable stand-in: the key itself cannot be shown as it is.
      if (keyReason) return { path: [...path, JSON.stringify(key)].join('.'), reason: `keys ${keyReason}` };
      const found = findUnstorableText(inner, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

