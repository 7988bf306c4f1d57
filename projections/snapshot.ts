/**
 * Snapshots of the folds: the four views that drive a process (dispatch, workers, stats, schedules) at a
 * position, with the records of every event still open there. Payloads are not in the views (they are
 * read from the log when needed), and retention may remove the segments that hold them: a snapshot
 * carries them so that a process starting from it loses nothing the log no longer has.
 * The bytes are made and checked by snapshot-codec.ts.
 * @module
 */
import type { Position } from '../engine/position.js';
import type { RecordOf, StoredRecord } from '../engine/records.js';
import { dispatchFold, eventCount, indexOf, type DispatchState, type QueueState } from './dispatch/index.js';
import { isFinished } from './dispatch/work-items.js';
import { schedulesFold, type SchedulesState } from './schedules.js';
import { statsFold, type StatsState } from './stats.js';
import { workersFold, type WorkersState } from './workers.js';

/** The states of the folds every process keeps (see `runtime/live-views.ts`). */
export interface FoldStates {
  readonly dispatch: DispatchState;
  readonly workers: WorkersState;
  readonly stats: StatsState;
  readonly schedules: SchedulesState;
}

/** The folds' complete state after the record at `position`, and the events open there. */
export interface Snapshot {
  /** Position of the last record folded into the states (-1: none). */
  readonly position: Position;
  /** Log time of that record. */
  readonly time: number;
  readonly states: FoldStates;
  /** The `event.published` records of the open events ({@link openEventPositions}), ascending. */
  readonly events: readonly RecordOf<'event.published'>[];
}

/** Empty states, as before the first record. */
export function initialStates(): FoldStates {
  return {
    dispatch: dispatchFold.initial(),
    workers: workersFold.initial(),
    stats: statsFold.initial(),
    schedules: schedulesFold.initial(),
  };
}

/** Folds one record into every state, in place. */
export function foldStates(states: FoldStates, r: StoredRecord): void {
  dispatchFold.evolve(states.dispatch, r);
  workersFold.evolve(states.workers, r);
  statsFold.evolve(states.stats, r);
  schedulesFold.evolve(states.schedules, r);
}

/**
 * Positions (ascending) of the events that are open at the state's position: not finished by every
 * subscriber of their queue (a deleted one counts with the progress it made). That includes pending,
 * delayed, retrying and in-flight events, every event of a queue without a subscriber (one may
 * subscribe from the start later), the events a broadcast subscriber's workers have not all handled,
 * and dead events (a redrive runs them again).
 */
export function openEventPositions(state: DispatchState): Position[] {
  const open: Position[] = [];
  for (const q of state.queues.values()) {
    // Deleted subscribers count with the progress they made: a deletion reopens nothing.
    const subs = [...state.subscribers.values()].filter((s) => s.reg.queue === q.name);
    const lows = subs.map((s) => lowOf(s, q));
    const extra = new Set<Position>();
    for (const sub of subs) for (const p of [...sub.revived, ...sub.dead]) extra.add(p);
    // Absolute indexes (the events below the base were finished for every subscriber and dropped).
    const from = subs.length === 0 ? q.base : Math.max(q.base, Math.min(...lows));
    for (let i = from; i < eventCount(q); i++) {
      const p = q.positions[i - q.base] as Position;
      if (subs.length === 0 || subs.some((s, k) => i >= (lows[k] as number) && openFor(s, p))) open.push(p);
      else if (extra.has(p)) open.push(p);
      extra.delete(p);
    }
    open.push(...extra);
  }
  return [...new Set(open)].sort((a, b) => a - b);
}

type Sub = DispatchState['subscribers'] extends Map<string, infer S> ? S : never;

/** Absolute index (into the queue's events) of the subscriber's oldest event that may be open. */
function lowOf(sub: Sub, q: QueueState): number {
  if (sub.reg.delivery === 'competing') return sub.finishedBelow;
  // Broadcast: as far as its slowest worker got; a worker not seen yet starts at the start position.
  let low = indexOf(q, sub.reg.startPosition);
  if (sub.broadcast.size > 0) low = Math.min(...[...sub.broadcast.values()].map((b) => b.below));
  return low;
}

/** At or above its low: open for a competing subscriber unless its item finished; broadcast: open. */
function openFor(sub: Sub, p: Position): boolean {
  if (sub.reg.delivery !== 'competing') return true;
  const item = sub.items.get(p);
  return item === undefined || !isFinished(item);
}
