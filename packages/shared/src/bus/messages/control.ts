import { z } from 'zod';

/**
 * BUS.md §6, on `control`: broadcast to every worker (the stop of a local or SSH job) and every
 * API node (`access_changed`: a token was revoked, a user changed or a policy deleted; published
 * by those services, heard by each node's open job and run streams, which check their
 * subscriber's access again).
 */
export const ControlMessage = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('cancel'), jobId: z.string(), graceMs: z.number().int() }),
  z.object({ v: z.literal(1), type: z.literal('access_changed') }),
]);
export type ControlMessage = z.infer<typeof ControlMessage>;
