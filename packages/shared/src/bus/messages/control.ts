import { z } from 'zod';

/** BUS.md §6, on `control`: broadcast to every worker (the stop of a local or SSH job). */
export const ControlMessage = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('cancel'), jobId: z.string(), graceMs: z.number().int() }),
]);
export type ControlMessage = z.infer<typeof ControlMessage>;
