import { z } from 'zod';
import { adminTokenVar, commonEnv, intVar } from '@vmo/shared/config';

export const apiEnv = z.object({
  ...commonEnv,
  VMO_PORT: intVar(3121, 0, 65535),
  VMO_HOST: z.string().min(1).default('0.0.0.0'),
  /** If set (or VMO_ADMIN_TOKEN_FILE), this token is an admin token (stored hashed); otherwise one is generated at first start. */
  VMO_ADMIN_TOKEN: adminTokenVar,
  /**
   * A subscriber whose unsent backlog passes this while the stream is live is disconnected (close
   * 4008). At least 1 MiB: one live message (a 256 KiB output batch as base64 JSON, ~342 KiB) must
   * fit with room to spare, or a subscriber keeping up would be cut by a single message.
   */
  VMO_SUBSCRIBER_BUFFER_BYTES: intVar(8 * 1024 * 1024, 1024 * 1024, 1024 * 1024 * 1024),
});
export type ApiConfig = z.infer<typeof apiEnv>;

export const MAX_BODY_BYTES = 1024 * 1024;
