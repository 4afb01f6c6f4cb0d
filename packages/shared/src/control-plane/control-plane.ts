import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import type { Keys } from '../redis.ts';
import type { QueuedJobData } from '../queue/job-queue.ts';

/** What a service function needs: the same for the API, the worker, the CLI and tests. */
export interface ControlPlane {
  database: Database;
  /** Commands and PUBLISH (never put in subscriber mode). */
  redis: Redis;
  queue: Queue<QueuedJobData>;
  keys: Keys;
  log: Logger;
  limits: { maxOutputBytes: number; tailBytes: number; agentGraceMs: number; heartbeatMs: number };
}
