/**
 * A keyset-paged list a page keeps live (GET /v1/agents, GET /v1/hosts): the first `want` items,
 * fetched page after page, fetched again whenever the page is told something changed.
 *
 * A refetch from a tick is skipped while one is in flight (a slow API is not asked twice as often);
 * one after an action (`force`) is not, and only the newest answer is shown, so a row just revoked
 * or deleted never comes back from an answer that left before the action.
 */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export class LiveList<T> {
  items = $state<T[]>([]);
  /** The first answer (or error) arrived. */
  loaded = $state(false);
  /** The list goes on past `want`. */
  more = $state(false);
  error = $state<unknown>(undefined);
  /** When the shown items were fetched ("last seen 3 s ago" is counted from it). */
  fetchedAt = $state(Date.now());
  want: number;

  private inFlight = 0;
  private latest = 0;

  constructor(
    private readonly fetchPage: (limit: number, cursor: string | undefined) => Promise<Page<T>>,
    readonly pageSize = 500,
  ) {
    this.want = pageSize;
  }

  async refetch(force = false): Promise<void> {
    if (this.inFlight > 0 && !force) return;
    const mine = ++this.latest;
    this.inFlight++;
    try {
      const { items, more } = await this.firstPages();
      if (mine !== this.latest) return;
      this.items = items;
      this.more = more;
      this.fetchedAt = Date.now();
      this.error = undefined;
    } catch (err) {
      if (mine === this.latest) this.error = err;
    } finally {
      this.inFlight--;
      this.loaded = true;
    }
  }

  /** Another page's worth. */
  showMore(): Promise<void> {
    this.want += this.pageSize;
    return this.refetch(true);
  }

  /** Drop rows at once (a revoke or delete the API accepted), before the refetch confirms it. */
  remove(gone: (item: T) => boolean): void {
    this.items = this.items.filter((item) => !gone(item));
  }

  private async firstPages(): Promise<{ items: T[]; more: boolean }> {
    const items: T[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.fetchPage(Math.min(this.pageSize, this.want - items.length), cursor);
      items.push(...page.items);
      if (page.nextCursor === null) return { items, more: false };
      if (items.length >= this.want) return { items, more: true };
      cursor = page.nextCursor;
    }
  }
}
