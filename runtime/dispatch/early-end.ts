/**
 * Which end order folded before a dispatcher attached still applies to it (issue 14). An order folded
 * after attaching always applies (see `Dispatcher.endsAt`); one from before applies when either
 * - the queue is still ended: the order is the queue's latest control and no event was published
 *   after it, up to the attach. A worker started then (a late process of `eventy run -p N`, a restart)
 *   drains what it has left before the order, as every running worker did, and stops: `eventy run`
 *   exits once all its queues ended. A publish after the order reopens the queue for later workers.
 * - or (competing) the subscriber still has events before the order to finish: ezq's pattern, publish
 *   the work and End, then start the consumer, which handles what came before End and returns, even
 *   when events were published after End meanwhile (those are for the workers that come later).
 * Otherwise the order is history: a subscriber that finished everything before it goes on with the
 * events published after it.
 * @module
 */
import type { Position } from '../../engine/position.js';
import {
  lowerBound,
  oldestOpen,
  type QueueState,
  type SubscriberState,
} from '../../projections/dispatch/index.js';
import type { SubscriptionSpec } from './context.js';

/** The position of the end order from before attaching that applies to the dispatcher, else null. */
export function earlyEnd(spec: SubscriptionSpec, sub: SubscriberState, q: QueueState): Position | null {
  const end = q.endedAt;
  if (end === undefined || end > spec.attachedAt) return null;
  if (stillEnded(q, end, spec.attachedAt)) return end;
  if (spec.options.delivery !== 'competing') return null;
  const next = oldestOpen(sub, q);
  return next !== undefined && next < end ? end : null;
}

/** True when, as of `attachedAt`, neither an interrupt nor an event came after the end order at `end`. */
function stillEnded(q: QueueState, end: Position, attachedAt: Position): boolean {
  const interrupt = q.interruptedAt;
  if (interrupt !== undefined && interrupt > end && interrupt <= attachedAt) return false;
  const after = q.positions[lowerBound(q.positions, end + 1)];
  return after === undefined || after > attachedAt;
}
