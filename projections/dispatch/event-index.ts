/**
 * The event index: each queue's dispatchable events in log order, their positions and availability
 * times in typed arrays grown by doubling. Folds the `event.published` records that keys.ts admits.
 *
 * Indexes are absolute: the i-th event ever indexed in a queue keeps index i (the subscribers'
 * `finishedBelow`, broadcast progress and the runtime's scans hold such indexes). The arrays hold the
 * events from `QueueState.base` on: those below the queue's *floor* — finished for every subscriber of
 * the queue ({@link floorOf}) — are dropped (compacted away) once they are at least half of what is held
 * and `compaction.least` or more, so memory follows the open events, not the length of history. The
 * check runs every `compaction.every` events indexed, on the log's content alone: every process, and
 * one resumed from a snapshot, compacts at the same events and holds the same `base`.
 *
 * Invariants: a queue's positions ascend strictly (the log's order), so {@link lowerBound} finds an
 * event by position; `availableAt[i]` belongs to `positions[i]`; `base` only grows, and never above a
 * subscriber's floor ({@link floorOf}).
 * @module
 */
import type { Position } from '../../engine/position.js';
import type { DispatchState, QueueState, SubscriberState } from './state.js';

/**
 * When the event index drops finished events: it looks every `every` events indexed (a look costs one
 * pass over the subscribers) and drops at least `least` (short histories are never compacted). Every
 * process must use the same values (they decide the `base`); tests lower them to compact short logs.
 */
export const compaction = { every: 1024, least: 4096 };

/**
 * A queue's events in typed arrays grown by doubling; `positions` and `availableAt` view the part held
 * (from `base` on).
 */
export class QueueEvents implements QueueState {
  base = 0;
  endedAt: Position | undefined = undefined;
  interruptedAt: Position | undefined = undefined;
  readonly keys = new Map<string, Position>();
  readonly keyUntil = new Map<string, number>();
  readonly reserved = new Set<SubscriberState>();
  readonly priorities = new Map<Position, number>();
  #positions: Float64Array = new Float64Array(64);
  #availableAt: Float64Array = new Float64Array(64);
  #length = 0;
  #positionsView: Float64Array | undefined;
  #availableAtView: Float64Array | undefined;

  constructor(readonly name: string) {}

  get positions(): Float64Array {
    return (this.#positionsView ??= this.#positions.subarray(0, this.#length));
  }

  get availableAt(): Float64Array {
    return (this.#availableAtView ??= this.#availableAt.subarray(0, this.#length));
  }

  push(position: Position, availableAt: number): void {
    if (this.#length === this.#positions.length) {
      this.#positions = doubled(this.#positions);
      this.#availableAt = doubled(this.#availableAt);
    }
    this.#positions[this.#length] = position;
    this.#availableAt[this.#length] = availableAt;
    this.#length++;
    this.#positionsView = this.#availableAtView = undefined;
  }

  /**
   * Drops the events below absolute index `below` (> base): the rest moves to the front, in arrays
   * halved while they would be less than a quarter full.
   */
  dropBelow(below: number): void {
    const drop = Math.min(below - this.base, this.#length);
    if (drop <= 0) return;
    const keep = this.#length - drop;
    let capacity = this.#positions.length;
    while (capacity > 64 && keep < capacity / 4) capacity /= 2;
    this.#positions = moved(this.#positions, drop, keep, capacity);
    this.#availableAt = moved(this.#availableAt, drop, keep, capacity);
    this.#length = keep;
    this.base += drop;
    this.#positionsView = this.#availableAtView = undefined;
  }

  /** Its fields as plain values, for a snapshot (snapshot-codec.ts): {@link fromParts} makes it again. */
  toParts(): QueueEventsParts {
    // Its own fields, whatever they are (a field added later is carried too); the arrays' used part.
    return Object.assign({}, this, { positions: this.positions, availableAt: this.availableAt });
  }

  /** The index {@link toParts} described: its typed arrays copied, with room to grow. */
  static fromParts(parts: QueueEventsParts): QueueEvents {
    const { positions, availableAt, ...fields } = parts;
    const q = Object.assign(new QueueEvents(parts.name), fields);
    const capacity = Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, positions.length))));
    q.#positions = new Float64Array(capacity);
    q.#positions.set(positions);
    q.#availableAt = new Float64Array(capacity);
    q.#availableAt.set(availableAt);
    q.#length = positions.length;
    return q;
  }
}

/** A {@link QueueEvents} as plain values: its own fields and the used part of its arrays. */
export type QueueEventsParts = { -readonly [K in keyof QueueState]: QueueState[K] };

/** `array`'s `keep` elements from `from`, at the front of an array of `capacity` (the same one if it fits). */
function moved(array: Float64Array, from: number, keep: number, capacity: number): Float64Array {
  if (capacity === array.length) {
    array.copyWithin(0, from, from + keep);
    return array;
  }
  const smaller = new Float64Array(capacity);
  smaller.set(array.subarray(from, from + keep));
  return smaller;
}

function doubled(array: Float64Array): Float64Array {
  const bigger = new Float64Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** The queue named `name`, created empty on first touch. */
export function queueOf(state: DispatchState, name: string): QueueState {
  return eventsOf(state, name);
}

/** {@link queueOf}, typed as the index that can grow. */
export function eventsOf(state: DispatchState, name: string): QueueEvents {
  let q = state.queues.get(name) as QueueEvents | undefined;
  if (!q) {
    q = new QueueEvents(name);
    state.queues.set(name, q);
  }
  return q;
}

/** How many events the queue ever indexed (the absolute index the next one gets); 0 for no queue. */
export function eventCount(q: QueueState | undefined): number {
  return q === undefined ? 0 : q.base + q.positions.length;
}

/** Absolute index of the first event of the queue at or after `position` (among those held, or `base`). */
export function indexOf(q: QueueState, position: Position): number {
  return q.base + lowerBound(q.positions, position);
}

/**
 * The queue's floor: the lowest absolute index any subscriber of the queue may still need — a competing
 * subscriber's `finishedBelow` (a deleted one's too: a deletion reopens nothing), the slowest worker of a
 * broadcast subscriber (before any, its start). Undefined without subscribers: every event waits for
 * one that may subscribe from the start.
 */
export function floorOf(state: DispatchState, q: QueueState): number | undefined {
  let floor: number | undefined;
  for (const sub of state.subscribers.values()) {
    if (sub.reg.queue !== q.name) continue;
    const low = lowOf(sub, q);
    if (floor === undefined || low < floor) floor = low;
  }
  return floor;
}

/** The lowest absolute index a subscriber may still need (see {@link floorOf}). */
function lowOf(sub: SubscriberState, q: QueueState): number {
  if (sub.reg.delivery === 'competing') return sub.finishedBelow;
  if (sub.broadcast.size === 0) return indexOf(q, sub.reg.startPosition);
  let low = Infinity;
  for (const progress of sub.broadcast.values()) low = Math.min(low, progress.below);
  return low;
}

/**
 * Every `compaction.every` events indexed: drops the queue's events below its floor when they are
 * at least half of those held and `compaction.least` or more (amortised: each event is moved at most
 * once per halving), with the priorities of the events dropped (a dead one's stays: a redrive runs it
 * again).
 */
export function compact(state: DispatchState, q: QueueEvents): void {
  if (eventCount(q) % compaction.every !== 0) return;
  const floor = floorOf(state, q);
  const held = q.positions.length;
  if (floor === undefined || floor - q.base < Math.max(compaction.least, held / 2)) return;
  const below = q.positions[Math.min(floor - q.base, held) - 1] as Position; // the last event dropped
  q.dropBelow(floor);
  if (q.priorities.size > 0) dropPriorities(state, q, below);
}

/** Drops the priorities of the queue's events up to `last`, but those of events dead or redriven. */
function dropPriorities(state: DispatchState, q: QueueState, last: Position): void {
  const subs = [...state.subscribers.values()].filter((s) => s.reg.queue === q.name);
  for (const p of q.priorities.keys()) {
    if (p > last) return; // in log order: the rest are above
    if (!subs.some((s) => s.dead.has(p) || s.revived.has(p))) q.priorities.delete(p);
  }
}

/** Index of the first element ≥ value in an ascending array (or typed array). */
export function lowerBound(sorted: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
