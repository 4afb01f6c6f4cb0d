import { isTerminal, type JobStatus, type JobView } from '@vmo/shared/jobs';
import { waitFor } from './wait-for.ts';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A thin REST client for tests: no retries, no magic, the raw status and body. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string | undefined,
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (logs): keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  async bytes(path: string): Promise<{ status: number; data: Buffer }> {
    const res = await fetch(this.baseUrl + path, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
    return { status: res.status, data: Buffer.from(await res.arrayBuffer()) };
  }

  async submit(job: Record<string, unknown>): Promise<JobView> {
    const res = await this.request<JobView>('POST', '/v1/jobs', job);
    if (res.status !== 201) throw new Error(`submit failed: ${res.status} ${res.text}`);
    return res.body;
  }

  async job(id: string): Promise<JobView> {
    const res = await this.request<JobView>('GET', `/v1/jobs/${id}`);
    if (res.status !== 200) throw new Error(`GET job failed: ${res.status} ${res.text}`);
    return res.body;
  }

  /** Poll until the job is terminal. */
  waitForEnd(id: string, timeoutMs = 60_000): Promise<JobView> {
    return waitFor(`job ${id} to end`, async () => {
      const job = await this.job(id);
      return isTerminal(job.status as JobStatus) ? job : undefined;
    }, timeoutMs, 50);
  }

  waitForStatus(id: string, status: JobStatus, timeoutMs = 30_000): Promise<JobView> {
    return waitFor(`job ${id} to be ${status}`, async () => {
      const job = await this.job(id);
      return job.status === status ? job : undefined;
    }, timeoutMs, 50);
  }

  async logs(id: string, query = ''): Promise<Buffer> {
    const res = await this.bytes(`/v1/jobs/${id}/logs${query}`);
    if (res.status !== 200) throw new Error(`logs failed: ${res.status} ${res.data.toString()}`);
    return res.data;
  }
}
