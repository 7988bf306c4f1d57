/**
 * Reservations: a worker reserves its free slots for a competing subscriber's next events
 * (`claim.reserved`), and each new event that is available at once *binds* to one reservation as it is
 * folded: a claim of attempt 1 by that worker at the event's own position, so the event runs after one
 * trip through the log instead of two (event, then claim). One word for each step, as in the runtime's
 * runtime/dispatch/reservations.ts (BOUND → HELD): a worker *reserves* ({@link reserved}); the fold
 * *binds* a new event to a reservation ({@link bind}; {@link boundAt} reads back what it bound); the
 * worker's heartbeat *renews* the reservations it names ({@link renewed}); a reservation is *dropped*
 * ({@link unreserve}) when used up, expired or cancelled (zero slots or TTL), when its worker leaves,
 * its subscriber is deleted or stops competing, or a control order comes.
 *
 * Invariants: a subscriber is in its queue's `reserved` set exactly while it has a reservation; binding
 * goes through the claim rule ({@link acquired}), so it never takes an event a claim holds; among a
 * subscriber's live reservations the one with the most slots left takes the event (the first made on a
 * tie); nothing binds to an expired reservation (log time, not a clock).
 * @module
 */
import type { Position } from '../../engine/position.js';
import type { RecordOf } from '../../engine/records.js';
import { eventsOf } from './event-index.js';
import type { DispatchState, QueueState, Reservation, SubscriberState, WorkItem } from './state.js';
import { acquired, competing } from './work-items.js';

/** `claim.reserved`: adds slots to the worker's live reservation (or starts one) and renews it. */
export function reserved(state: DispatchState, r: RecordOf<'claim.reserved'>): void {
  const sub = competing(state, r.subscriberId);
  if (!sub || sub.reg.queue !== r.queue) return;
  const q = eventsOf(state, r.queue);
  const slots = Number.isSafeInteger(r.slots) && r.slots > 0 ? r.slots : 0;
  const ttlMs = Number.isFinite(r.ttlMs) && r.ttlMs > 0 ? r.ttlMs : 0;
  const live = sub.reservations.get(r.workerId);
  const left = live !== undefined && live.expiresAt > r.time ? live.slots : 0;
  if (left + slots === 0 || ttlMs === 0) {
    unreserve(state, sub, r.workerId);
    return;
  }
  const res = { slots: left + slots, expiresAt: r.time + ttlMs, leaseMs: r.leaseMs };
  if (live) Object.assign(live, res);
  else sub.reservations.set(r.workerId, res);
  q.reserved.add(sub);
}

/**
 * `worker.heartbeat`: renews the worker's live reservation of each subscriber its `renews` names, as a
 * `claim.reserved` of 0 slots with the beat's `ttlMs` would (one that expired is dropped instead).
 */
export function renewed(state: DispatchState, r: RecordOf<'worker.heartbeat'>): void {
  const list: unknown = r.renews;
  if (!Array.isArray(list)) return;
  const ttlMs = Number.isFinite(r.ttlMs) && r.ttlMs > 0 ? r.ttlMs : 0;
  for (const id of list) {
    const sub = typeof id === 'string' ? competing(state, id) : undefined;
    const live = sub?.reservations.get(r.workerId);
    if (!sub || !live) continue;
    if (live.expiresAt <= r.time || live.slots <= 0 || ttlMs === 0) unreserve(state, sub, r.workerId);
    else live.expiresAt = r.time + ttlMs;
  }
}

/** Drops a subscriber's reservations: one worker's, or all. */
export function unreserve(state: DispatchState, sub: SubscriberState, workerId?: string): void {
  if (workerId === undefined) sub.reservations.clear();
  else sub.reservations.delete(workerId);
  if (sub.reservations.size === 0) state.queues.get(sub.reg.queue)?.reserved.delete(sub);
}

/** `worker.left`: the worker's reservations go with it. */
export function workerLeft(state: DispatchState, r: RecordOf<'worker.left'>): void {
  for (const q of state.queues.values()) for (const sub of [...q.reserved]) unreserve(state, sub, r.workerId);
}

/**
 * A new event, dispatchable now: bound, for each subscriber holding reservations, to one of them, folded
 * as that worker's `claim.acquired` of attempt 1 at the event's own position.
 */
export function bind(state: DispatchState, q: QueueState, position: Position, time: number): void {
  for (const sub of q.reserved) {
    let best: [string, Reservation] | undefined;
    for (const entry of sub.reservations) {
      const res = entry[1];
      if (res.expiresAt <= time) sub.reservations.delete(entry[0]);
      else if (best === undefined || res.slots > best[1].slots) best = entry;
    }
    if (best === undefined) {
      unreserve(state, sub);
      continue;
    }
    const [workerId, res] = best;
    const claim = {
      subscriberId: sub.id,
      workerId,
      eventPosition: position,
      attempt: 1,
      leaseMs: res.leaseMs,
      position,
      time,
    };
    if (!acquired(state, claim)) {
      if (sub.deleted || sub.reg.delivery !== 'competing') unreserve(state, sub);
      continue;
    }
    if (--res.slots <= 0) unreserve(state, sub, workerId);
  }
}

/** An event bound to a worker's reservation as it was folded: the subscriber, its item, the worker. */
export interface BoundClaim {
  readonly sub: SubscriberState;
  readonly item: WorkItem;
  readonly workerId: string;
}

/**
 * The claims a reservation made of the event `r` as it was folded (call right after folding it): the
 * subscribers whose item's claim is the event's own position, and the worker holding each.
 */
export function boundAt(state: DispatchState, r: { queue: string; position: Position }): BoundClaim[] {
  const out: BoundClaim[] = [];
  for (const sub of state.subscribers.values()) {
    const item = sub.reg.queue === r.queue ? sub.items.get(r.position) : undefined;
    if (item?.claimPosition === r.position && item.owner !== undefined)
      out.push({ sub, item, workerId: item.owner });
  }
  return out;
}
