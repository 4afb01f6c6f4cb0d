import { z } from 'zod';

/** The `Idempotency-Key` header of POST /v1/jobs: 1–255 visible ASCII characters. */
export const IdempotencyKey = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters');
