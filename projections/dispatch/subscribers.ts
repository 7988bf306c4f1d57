/**
 * Subscribers: registration (`subscriber.registered`) and deletion (`subscriber.deleted`), and what a
 * subscriber's progress is at a time.
 *
 * Invariants: registering again a live subscriber changes its options, never its progress (its items,
 * counts and start position stay); a deleted subscriber keeps its state for views but takes no claim
 * and holds no reservation; registering a deleted one starts it afresh at its start position.
 * @module
 */
import type { Position } from '../../engine/position.js';
import type { RecordOf } from '../../engine/records.js';
import { eventCount, indexOf, queueOf } from './event-index.js';
import { unreserve } from './reservations.js';
import type { DispatchState, QueueState, SubscriberState } from './state.js';
import { isFinished, isLeased } from './work-items.js';

export function registered(state: DispatchState, r: RecordOf<'subscriber.registered'>): void {
  const existing = state.subscribers.get(r.subscriberId);
  if (existing && !existing.deleted) {
    existing.reg = { ...r, startPosition: existing.reg.startPosition }; // options change, progress stays
    return;
  }
  const q = queueOf(state, r.queue);
  state.subscribers.set(r.subscriberId, {
    id: r.subscriberId,
    reg: r,
    registeredAt: r.position,
    registeredTime: r.time,
    deleted: false,
    finishedBelow: indexOf(q, r.startPosition), // not below base: what every subscriber finished is gone
    items: new Map(),
    counts: { done: 0, failed: 0, dead: 0, skipped: 0, rejected: 0 },
    starts: [],
    broadcast: new Map(),
    dead: new Set(),
    revived: new Set(),
    reservations: new Map(),
  });
}

export function deleted(state: DispatchState, r: RecordOf<'subscriber.deleted'>): void {
  const sub = state.subscribers.get(r.subscriberId);
  if (sub) {
    sub.deleted = true;
    unreserve(state, sub);
  }
}

/**
 * Where a subscriber stands at log time `time`: `depth` events waiting (not handled, not under a live
 * lease), `inFlight` under a live lease, and `lag`, the records between the oldest unhandled event and
 * the last record folded. Broadcast subscribers have no shared progress: zeros.
 */
export function subscriberProgress(
  state: DispatchState,
  sub: SubscriberState,
  time: number,
): { depth: number; inFlight: number; lag: number } {
  if (sub.reg.delivery !== 'competing') return { depth: 0, inFlight: 0, lag: 0 };
  const q = state.queues.get(sub.reg.queue);
  let finishedAbove = 0;
  let inFlight = 0;
  for (const item of sub.items.values()) {
    if (isFinished(item)) finishedAbove++;
    else if (isLeased(item, time)) inFlight++;
  }
  const pending = Math.max(0, eventCount(q) - sub.finishedBelow - finishedAbove) + sub.revived.size;
  const oldest = oldestOpen(sub, q);
  return {
    depth: pending - inFlight,
    inFlight,
    lag: oldest === undefined ? 0 : Math.max(0, state.position - oldest),
  };
}

/**
 * The position of a competing subscriber's oldest unfinished event (a redriven one included), undefined
 * when every event of its queue is finished for it.
 */
export function oldestOpen(sub: SubscriberState, q: QueueState | undefined): Position | undefined {
  let oldest = q?.positions[sub.finishedBelow - q.base];
  for (const p of sub.revived) if (oldest === undefined || p < oldest) oldest = p;
  return oldest;
}
