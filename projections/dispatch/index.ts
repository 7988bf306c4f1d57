/**
 * The dispatch fold: one state for dispatching (every queue's events, every subscriber's progress,
 * claims, leases, reservations, raw claims, control orders, the liveness of workers holding claims), folded from the log by {@link dispatchFold}.
 * This module routes each record to the module that folds it and re-exports the API; the state's shape is
 * in state.ts. The fold is the hot path of every process: no closures or conditional spreads per record.
 * @module
 */
import { isKnownRecord, type KnownRecord, type RecordOf } from '../../engine/records.js';
import type { Fold } from '../fold.js';
import { ordered } from './control.js';
import { compact, eventsOf } from './event-index.js';
import { firstOfKey } from './keys.js';
import { workerBeat, workerGone } from './liveness.js';
import { tokenClaimed } from './raw-claims.js';
import { redriven } from './redrive.js';
import { bind, renewed, reserved, workerLeft } from './reservations.js';
import type { DispatchState } from './state.js';
import { deleted, registered } from './subscribers.js';
import { acquired, acquiredBatch, extended, recorded, recordedBatch, released } from './work-items.js';

export type {
  Death,
  DispatchState,
  ItemStatus,
  QueueState,
  Reservation,
  SubscriberCounts,
  SubscriberState,
  WorkerLife,
  WorkItem,
} from './state.js';
export { deathOf, ownerDead, workerDead } from './liveness.js';
export { eventCount, floorOf, indexOf, lowerBound, queueOf } from './event-index.js';
export { boundAt, type BoundClaim } from './reservations.js';
export { tokenKey } from './raw-claims.js';
export { oldestOpen, subscriberProgress } from './subscribers.js';
export { isFinished, isLeased, itemOf, rateFreeAt, rateRoom } from './work-items.js';
export { broadcastDone } from './broadcast-progress.js';
export { liveKey } from './keys.js';

export const dispatchFold: Fold<DispatchState> = {
  initial: () => ({
    queues: new Map(),
    subscribers: new Map(),
    tokens: new Map(),
    rejected: new Set(),
    workers: new Map(),
    workersPrunedAt: 0,
    redrives: new Map(),
    time: 0,
    position: -1,
  }),
  evolve(state, record) {
    state.time = Math.max(state.time, record.time);
    state.position = record.position;
    if (isKnownRecord(record)) apply(state, record);
    return state;
  },
};

function apply(state: DispatchState, r: KnownRecord): void {
  switch (r.type) {
    case 'event.published':
      return published(state, r);
    case 'subscriber.registered':
      return registered(state, r);
    case 'subscriber.deleted':
      return deleted(state, r);
    case 'claim.acquired':
      acquired(state, r);
      return;
    case 'claims.acquired':
      return acquiredBatch(state, r);
    case 'claim.reserved':
      return reserved(state, r);
    case 'claim.extended':
      return extended(state, r);
    case 'claim.released':
      return released(state, r);
    case 'result.recorded':
      return recorded(state, r);
    case 'results.recorded':
      return recordedBatch(state, r);
    case 'control.end':
    case 'control.interrupt':
      return ordered(state, r);
    case 'worker.joined':
      return workerBeat(state, r);
    case 'worker.heartbeat':
      workerBeat(state, r);
      return renewed(state, r);
    case 'worker.left':
      workerGone(state, r);
      return workerLeft(state, r);
    case 'token.claimed':
      return tokenClaimed(state, r);
    case 'events.redriven':
      return redriven(state, r);
    default:
      return;
  }
}

/** A new event: indexed unless it is a keyed twin, and bound to reservations if available now. */
function published(state: DispatchState, r: RecordOf<'event.published'>): void {
  const q = eventsOf(state, r.queue);
  if (!firstOfKey(q, r)) return; // a twin of an earlier publish: never dispatched
  const availableAt = r.availableAt ?? r.time + (r.delay ?? 0);
  q.push(r.position, availableAt);
  compact(state, q);
  if (r.priority !== undefined && r.priority !== 0) q.priorities.set(r.position, r.priority);
  if (q.reserved.size > 0 && availableAt <= r.time) bind(state, q, r.position, r.time);
}
