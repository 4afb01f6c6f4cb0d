import type { JobStatus, Run, RunStreamProgress, RunStreamStatus, VmoClient } from '@vmo/client';
import { endsSession } from '../../lib/session-end.ts';
import { expireSession } from '../../lib/session.svelte.ts';

/** One child as the run stream last described it. */
export interface ChildView {
  jobId: string;
  index: number;
  target: string;
  status: JobStatus;
  exitCode: number | null;
  signal: string | null;
  error: { code: string; message: string } | null;
}

/** Where the page's live view stands: the stream is open, resuming after a drop, done, or given up. */
export type Connection = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

/** At most one redraw of the targets per this many ms, however many status frames arrive (a 10,000-target replay is 10,000 frames). */
const FLUSH_MS = 150;

/**
 * A run and every child's status, live: GET /v1/runs/{id} once, then the run stream without
 * output (followRun, `output: false`), which replays every child's status and then sends each
 * change and the run's progress, resuming by cursor after a dropped connection.
 *
 * Why the stream and not polling `GET /v1/runs/{id}/jobs`: a 10,000-target run would be ten pages
 * of children on every tick; the stream sends each child once, then only what changed. The
 * children are kept in a plain array by index (cheap for 10,000) and `version` is bumped once per
 * batch, so the page re-derives what it shows (one page of the grid) a few times a second at most.
 */
export class RunLive {
  run = $state<Run | undefined>();
  loadError = $state<unknown>();
  streamError = $state<unknown>();
  connection = $state<Connection>('connecting');
  /** Bumped when `children` changed. */
  version = $state(0);
  /** By index; holes until the replay has named them. */
  readonly children: ChildView[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private abort: AbortController | undefined;

  constructor(
    private readonly client: VmoClient,
    readonly id: string,
  ) {}

  /** Load and follow; returns the stop (an $effect's cleanup). */
  start(): () => void {
    void this.load();
    void this.follow();
    return () => this.stop();
  }

  stop(): void {
    this.abort?.abort();
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
  }

  async load(): Promise<void> {
    try {
      this.run = await this.client.runs.get(this.id);
      this.loadError = undefined;
    } catch (err) {
      this.loadError = err;
    }
  }

  /** After the stream gave up (or it was never opened): open it again from the start. */
  async follow(): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    this.streamError = undefined;
    this.connection = 'connecting';
    try {
      await this.client.runs.follow(this.id, {
        output: false,
        signal: abort.signal,
        onMessage: () => {
          if (this.connection !== 'live') this.connection = 'live';
        },
        onStatus: (s) => this.setChild(s),
        onProgress: (p) => this.applyProgress(p),
        onReconnect: () => {
          this.connection = 'reconnecting';
        },
      });
      if (abort.signal.aborted) return;
      this.flush();
      this.connection = 'ended';
      await this.load(); // its finishedAt and final error
    } catch (err) {
      if (abort.signal.aborted) return;
      this.flush();
      this.connection = 'failed';
      // The token was revoked or expired while the page followed: sign out, as a REST 401 does.
      if (endsSession(err)) return expireSession();
      this.streamError = err;
    }
  }

  /** After a cancel: the run as the API left it (the stream brings the children's ends). */
  replace(run: Run): void {
    this.run = run;
  }

  private setChild(s: RunStreamStatus): void {
    this.children[s.index] = { jobId: s.jobId, index: s.index, target: s.target, status: s.status, exitCode: s.exitCode, signal: s.signal, error: s.error };
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.version++;
  }

  private applyProgress(p: RunStreamProgress): void {
    // Statuses come before their window's progress: show them together.
    this.flush();
    if (!this.run) return;
    this.run.status = p.status;
    this.run.counts = p.counts;
    this.run.progress = { done: p.done, total: p.total };
    this.run.error = p.error;
  }
}
