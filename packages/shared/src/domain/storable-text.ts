import { z } from 'zod';

/**
 * Text Postgres can store. A `text` column refuses U+0000 ("invalid byte sequence") and a `jsonb`
 * one refuses both `\u0000` and an unpaired surrogate ("Unicode low surrogate must follow a high
 * surrogate"); in a `text` column an unpaired surrogate is silently turned into U+FFFD by the
 * driver. Either way the request would end as a 500 or as data that is not what was sent, so such
 * text is refused at the edge, with a 400 naming the field. Every input schema's strings go
 * through `storableString` (or `storableText` on a schema of its own).
 */
export function unstorableReason(text: string): string | undefined {
  if (text.includes('\0')) return 'must not contain NUL bytes';
  // String.prototype.isWellFormed is in Node 20 but not in the ES2023 lib this repo compiles with.
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) return 'must be well-formed Unicode (it contains an unpaired surrogate)';
  return undefined;
}

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

