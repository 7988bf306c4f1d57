import type { Position } from '../engine/position.js';
import { oldestLiveWorker } from '../projections/workers.js';
import type { LiveViews } from './live-views.js';
import type { SnapshotWriter } from './snapshot-writer.js';
import type { RuntimeWorker } from './worker.js';

/** When snapshots are written automatically (manager options). */
export interface SnapshotPolicy {
  /** Records since the last `snapshot.taken` that call for a new one; 0: never by count. */
  readonly every: number;
  /** Log time (ms) since the last `snapshot.taken` that calls for a new one (if records came); 0: off. */
  readonly intervalMs: number;
}

/**
 * Writes snapshots automatically from the worker chosen by the folds (the oldest live worker, see
 * {@link oldestLiveWorker}), after each run of folded records that makes one due; the writer then lets
 * the store apply its retention policy. Only a manager that hosts subscribers (a joined worker) takes
 * part.
 */
export function scheduleSnapshots(
  worker: RuntimeWorker,
  writer: SnapshotWriter,
  policy: SnapshotPolicy,
): void {
  const { views } = worker;
  if (policy.every <= 0 && policy.intervalMs <= 0) return;
  let lastRecord: Position = -1; // the snapshot.taken of the last one written here, until folded
  views.ticks$.subscribe(() => {
    if (writer.busy || !views.ready || views.position <= lastRecord || worker.dispatchers.size === 0) return;
    if (!due(views, policy) || oldestLiveWorker(views.workers, views.time) !== worker.workerId) return;
    writer
      .take()
      .then((info) => (lastRecord = info.recordPosition))
      .catch((e: unknown) => worker.report(e));
  });
}

function due(views: LiveViews, policy: SnapshotPolicy): boolean {
  if (policy.every > 0 && views.sinceSnapshot >= policy.every) return true;
  if (policy.intervalMs <= 0 || views.sinceSnapshot === 0) return false;
  const since = views.snapshotTime === 0 ? views.time - firstTime(views) : views.time - views.snapshotTime;
  return since >= policy.intervalMs;
}

/** Log time the interval counts from when no snapshot was taken yet: the first worker's join. */
function firstTime(views: LiveViews): number {
  let t = views.time;
  for (const w of views.workers.workers.values()) t = Math.min(t, w.joinedAt);
  return t;
}
