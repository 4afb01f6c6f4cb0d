import { VmoClient } from '@vmo/client';
import type { Job } from '@vmo/shared/api';
import { isTerminal, type JobStatus } from '@vmo/shared/domain';
import { recordingFetch } from './request-ledger.ts';
import { waitFor } from './wait-for.ts';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/**
 * The tests' view of the API: the typed client (@vmo/client, which checks every answer against
 * its contract here), plus `request()` for what a typed client would never send (bad bodies,
 * unknown paths) and waits on a job's status.
 *
 * Every request it sends, typed or raw, carries an X-Request-Id of its own (unless the test set
 * one) and is recorded with its answer (request-ledger.ts): the TestSystem that answered it checks
 * at stop() that the audit trail has its row (audit-check.ts).
 */
export class ApiClient {
  readonly vmo: VmoClient;

  constructor(
    readonly baseUrl: string,
    readonly token: string | undefined,
  ) {
    this.vmo = new VmoClient({ baseUrl, token, validateResponses: true, fetch: recordingFetch() });
  }

  /** Any request, answered as it is: the raw status and body, never thrown. */
  request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    return this.vmo.raw(method, path, { body, headers });
  }

  /** Loose input on purpose: tests submit what they like; the server validates. */
  submit(job: Record<string, unknown>): Promise<Job> {
    return this.vmo.jobs.submit(job as Parameters<VmoClient['jobs']['submit']>[0]);
  }

  job(id: string): Promise<Job> {
    return this.vmo.jobs.get(id);
  }

  /** Poll until the job is terminal. */
  waitForEnd(id: string, timeoutMs = 60_000): Promise<Job> {
    return waitFor(`job ${id} to end`, async () => {
      const job = await this.job(id);
      return isTerminal(job.status as JobStatus) ? job : undefined;
    }, timeoutMs, 50);
  }

  waitForStatus(id: string, status: JobStatus, timeoutMs = 30_000): Promise<Job> {
    return waitFor(`job ${id} to be ${status}`, async () => {
      const job = await this.job(id);
      return job.status === status ? job : undefined;
    }, timeoutMs, 50);
  }

  /** The stored bytes; `query` as in the URL (`?stream=stdout&after=3`). */
  async logs(id: string, query = ''): Promise<Buffer> {
    // As given, unchecked: the server validates (a test may send a bad value on purpose).
    const bytes = await this.vmo.jobs.logs(id, Object.fromEntries(new URLSearchParams(query)) as never);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
