import type { Context } from 'hono';
import type { z } from 'zod';
import { assertStorableText, badRequest, validationError } from '@vmo/shared/errors';

/**
 * Read and validate a JSON body. The content type is not required (curl sends form encoding by
 * default) but the text must be JSON. An absent body is treated as `{}` when `optional`.
 */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S, opts: { optional?: boolean } = {}): Promise<z.infer<S>> {
  const text = await c.req.text();
  let value: unknown;
  if (text.trim() === '') {
    if (!opts.optional) throw badRequest('invalid_json', 'the request body must be a JSON object');
    value = {};
  } else {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw badRequest('invalid_json', `the request body is not valid JSON${jsonErrorPlace(err as Error)}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('invalid_json', 'the request body must be a JSON object');
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error);
  // The schemas refuse text Postgres cannot store field by field; this catches a field that forgot.
  assertStorableText(parsed.data);
  return parsed.data;
}

/** Validate the query string; unknown parameters are errors too (a typo should not be ignored). */
export function queryParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  // A repeated parameter is an array: a schema that takes several (`?label=a=1&label=b=2`) reads
  // them all, and one that takes one value refuses the repeat instead of silently keeping the first.
  const query = Object.fromEntries(Object.entries(c.req.queries()).map(([name, values]) => [name, values.length === 1 ? values[0] : values]));
  const parsed = schema.safeParse(query);
  if (!parsed.success) throw validationError(parsed.error, 'query');
  assertStorableText(parsed.data, 'query');
  return parsed.data;
}

/**
 * Where JSON.parse gave up, without its words: V8's message quotes the text around the error
 * (`Unexpected token 'c', "{"env":{"S":canary…" is not valid JSON`), which would put a piece of
 * the body (an env value, a token) into the answer and the log.
 */
function jsonErrorPlace(err: Error): string {
  const position = /at position (\d+)/.exec(err.message)?.[1];
  return position === undefined ? '' : ` (at character ${position})`;
}
