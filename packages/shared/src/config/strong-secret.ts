import { z } from 'zod';
import { secretVar } from './secret-var.ts';

export const MIN_SECRET_CHARS = 32;
const MIN_DISTINCT_CHARS = 8;

/**
 * Why `value` is too weak to be a bearer token, or undefined if it will do. Not an entropy meter:
 * it refuses what is obviously not random. 32 hex characters (128 bits, `openssl rand -hex 16`)
 * always pass: in 200,000 random draws the fewest distinct characters seen was 8, and a run of
 * neighbouring characters covers about 3 in 16 of the pairs, never half.
 */
export function secretWeakness(value: string): string | undefined {
  const chars = [...value];
  if (chars.length < MIN_SECRET_CHARS) return `must be at least ${MIN_SECRET_CHARS} characters`;
  if (new Set(chars).size < MIN_DISTINCT_CHARS) return `must use at least ${MIN_DISTINCT_CHARS} different characters`;
  for (let period = 1; period <= chars.length / 2; period++) {
    if (chars.every((c, i) => i < period || c === chars[i - period])) return 'must not be a short string repeated';
  }
  let neighbours = 0;
  for (let i = 1; i < chars.length; i++) if (Math.abs(chars[i]!.codePointAt(0)! - chars[i - 1]!.codePointAt(0)!) <= 1) neighbours++;
  if (neighbours * 2 >= chars.length - 1) return 'must not be a run of neighbouring characters (abcd…, 1234…, aaaa…)';
  return undefined;
}

const HOW = 'e.g. vmo_adm_$(openssl rand -hex 24)';

/** A token chosen by the operator (VMO_ADMIN_TOKEN): secret, and not guessable. */
export const strongSecret = () =>
  z.string().superRefine((value, ctx) => {
    const weakness = secretWeakness(value);
    if (weakness) ctx.addIssue({ code: 'custom', message: `${weakness} (${HOW})` });
  });

/** `VMO_ADMIN_TOKEN` (or `VMO_ADMIN_TOKEN_FILE`): optional; one is generated at first start without it. */
export const adminTokenVar = secretVar(strongSecret().optional());

/**
 * `VMO_SECRET_KEY` (or `VMO_SECRET_KEY_FILE`): the key that encrypts jobs' `secretEnv` at rest,
 * 32 random bytes as 64 hex characters (`openssl rand -hex 32`). Optional: without it, a job with
 * `secretEnv` is refused (422 secrets_disabled). The API and every worker need the same key.
 */
export const secretKeyVar = secretVar(
  z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters (32 bytes; e.g. openssl rand -hex 32)')
    .superRefine((value, ctx) => {
      const weakness = secretWeakness(value);
      if (weakness) ctx.addIssue({ code: 'custom', message: `${weakness} (it must be random: openssl rand -hex 32)` });
    })
    .optional(),
);
