// Text Postgres cannot store (storable-text.ts has the zod builders on top of this). No zod here: the
// bundled agent uses it.

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
