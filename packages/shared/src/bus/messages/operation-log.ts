import { z } from 'zod';

/**
 * BUS.md §12, on `wop:{operation}:log`: a workspace operation's log (issue 18). A `line` is
 * published after its row is in workspace_operation_logs; `end` when the operation ended. A
 * follower treats both as a wake-up and reads Postgres from the last seq it has (pub/sub may lose
 * messages, §7), so nothing here is the only record.
 */
export const OperationLogEvent = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('line'), seq: z.number().int().min(0), at: z.string(), line: z.string() }),
  z.object({ v: z.literal(1), type: z.literal('end'), status: z.string() }),
]);
export type OperationLogEvent = z.infer<typeof OperationLogEvent>;
