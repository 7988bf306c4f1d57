/**
 * The event index: each queue's dispatchable events in log order, their positions and availability
 * times in typed arrays grown by doubling. Folds the `event.published` records that keys.ts admits.
 *
 * Invariants: a queue's positions ascend strictly (the log's order), so {@link lowerBound} finds an
 * event by position; `availableAt[i]` belongs to `positions[i]`; an event, once indexed, stays (the
 * subscribers' `finishedBelow` are indexes into these arrays).
 * @module
 */
import type { Position } from '../../engine/position.js';
import type { DispatchState, QueueState, SubscriberState } from './state.js';

/** A queue's events in typed arrays grown by doubling; `positions` and `availableAt` view the used part. */
export class QueueEvents implements QueueState {
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
