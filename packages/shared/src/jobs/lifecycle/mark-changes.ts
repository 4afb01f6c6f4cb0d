import { markChanged } from '../../bus/change-notifier.ts';
import type { BusConnection } from '../../bus/publish.ts';
import { onTransitionOnce } from './observers.ts';

/**
 * Tell dashboards of every transition this process wins (BUS.md §10): `jobs`, and `runs` too for a
 * run's child (its run's counts moved). An observer, so the lifecycle's writers stay as they are;
 * registered once per process however many services start in it (the API and the worker under
 * `npm start`). The mark is a set insert: no transition waits for Redis. Returns the disposer.
 */
export function markChangesOnTransition(bus: BusConnection): () => void {
  return onTransitionOnce('dashboard-changes', ({ job }) => {
    markChanged(bus, 'jobs');
    if (job.runId) markChanged(bus, 'runs');
  });
}
