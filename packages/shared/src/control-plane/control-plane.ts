import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import type { Keys, RedisClient } from '../redis.ts';
import type { QueuedJobData } from '../queue/job-queue.ts';
import type { SecretBox } from '../secrets/secret-box.ts';

/** What a service function needs: the same for the API, the worker, the CLI and tests. */
export interface ControlPlane {
  database: Database;
  /** Commands and PUBLISH (never put in subscriber mode). */
  redis: RedisClient;
  queue: Queue<QueuedJobData>;
  keys: Keys;
  log: Logger;
  limits: { maxOutputBytes: number; tailBytes: number; agentGraceMs: number; heartbeatMs: number };
  /** Seals and opens jobs' `secretEnv` (VMO_SECRET_KEY); absent when no key is configured (secretEnv is then refused). */
  secretBox?: SecretBox;
}
