import type { Position } from '../../engine/position.js';
import { indexOf } from './event-index.js';
import type { DispatchState, QueueState, SubscriberState } from './state.js';

/**
 * What each worker of a broadcast subscriber has handled, from its results in the log: every event
 * before `below` (an index into the queue's events), and those after it in `above`. A worker that
 * starts again with the same id (the manager's `workerId`) goes on with the events it has not handled;
 * a new worker handles every event since the subscriber's start (Eventy's broadcast).
 */
export interface BroadcastProgress {
  below: number;
  readonly above: Set<Position>;
}

/** Notes that `workerId` ended event `p` (a final result: ok, skipped, or failed with no retry). */
export function broadcastHandled(
  state: DispatchState,
  sub: SubscriberState,
  workerId: string,
  p: Position,
): void {
  const q = state.queues.get(sub.reg.queue);
  if (!q) return;
  let progress = sub.broadcast.get(workerId);
  if (!progress) {
    progress = { below: indexOf(q, sub.reg.startPosition), above: new Set() };
    sub.broadcast.set(workerId, progress);
  }
  if (p < (q.positions[progress.below - q.base] ?? Infinity)) return;
  progress.above.add(p);
  for (;;) {
    const next = q.positions[progress.below - q.base];
    if (next === undefined || !progress.above.delete(next)) return;
    progress.below++;
  }
}

/** True when `workerId` has handled event `p` of the broadcast subscriber. */
export function broadcastDone(sub: SubscriberState, q: QueueState, workerId: string, p: Position): boolean {
  const progress = sub.broadcast.get(workerId);
  if (!progress) return false;
  return p < (q.positions[progress.below - q.base] ?? Infinity) || progress.above.has(p);
}
