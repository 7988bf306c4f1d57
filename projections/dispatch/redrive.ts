/**
 * Redrive: dead events of a competing subscriber put back to pending (`events.redriven`). Each listed
 * event that is dead for the subscriber when the record is folded starts over — status `released`, the
 * attempt count and failures at 0 (its next claim is attempt 1: a fresh retry budget), available at the
 * record's log time — and leaves the subscriber's dead set. The others are left alone (not dead there,
 * already redriven, unknown), so every process decides the same whatever the caller saw.
 *
 * A dead event above the `finishedBelow` still has its item, which is reset. One below it was dropped
 * from the hot view when the `finishedBelow` passed it: a new item is made and its position joins
 * `revived`, which scans look at besides the events from the `finishedBelow` on; it leaves `revived`
 * (and `items`) when it finishes again (work-items.ts's advance).
 * @module
 */
import type { Position } from '../../engine/position.js';
import type { RecordOf } from '../../engine/records.js';
import type { DispatchState, SubscriberState, WorkItem } from './state.js';
import { competing } from './work-items.js';

/** How many recent redrives `DispatchState.redrives` remembers (the API reads its own right after). */
const REDRIVES_KEPT = 64;

/** `events.redriven`: the listed events dead at this position start over; the count is remembered. */
export function redriven(state: DispatchState, r: RecordOf<'events.redriven'>): void {
  let count = 0;
  const sub = competing(state, r.subscriberId);
  const list: unknown = r.eventPositions;
  if (sub && sub.reg.queue === r.queue && Array.isArray(list)) {
    for (const p of list) if (typeof p === 'number' && revive(sub, p, r.time)) count++;
  }
  state.redrives.set(r.position, count);
  if (state.redrives.size > REDRIVES_KEPT) {
    state.redrives.delete(state.redrives.keys().next().value as Position);
  }
}

/** Puts one dead event back; false when it is not dead for the subscriber. */
function revive(sub: SubscriberState, p: Position, time: number): boolean {
  if (!sub.dead.delete(p)) return false;
  sub.counts.dead--;
  const found = sub.items.get(p);
  const item: WorkItem = found ?? {
    eventPosition: p,
    status: 'released',
    attempt: 0,
    owner: undefined,
    claimPosition: undefined,
    leaseUntil: 0,
    availableAt: time,
    failures: 0,
  };
  item.status = 'released';
  item.attempt = 0;
  item.owner = undefined;
  item.claimPosition = undefined;
  item.leaseUntil = 0;
  item.availableAt = time;
  item.failures = 0;
  if (!found) {
    sub.items.set(p, item);
    sub.revived.add(p);
  }
  return true;
}
