/**
 * The shape of the dispatch state: what {@link dispatchFold} keeps of the log for dispatching. One state,
 * mutated in place by the modules beside this one, each owning its part:
 * - event-index.ts: `QueueState.base`, `positions` / `availableAt` (each queue's events, in typed arrays,
 *   below the oldest still open for a subscriber dropped);
 * - keys.ts: `QueueState.keys` (idempotency keys);
 * - work-items.ts: `SubscriberState.items`, `finishedBelow`, `counts`, `dead`; `DispatchState.rejected`;
 * - redrive.ts: `SubscriberState.revived`, `DispatchState.redrives` (and dead items put back);
 * - reservations.ts: `SubscriberState.reservations`, `QueueState.reserved`;
 * - raw-claims.ts: `DispatchState.tokens`;
 * - control.ts: `QueueState.endedAt` / `interruptedAt`;
 * - liveness.ts: `DispatchState.workers` (when a claim's worker died);
 * - subscribers.ts: `DispatchState.subscribers` (registration, deletion).
 * @module
 */
import type { BroadcastProgress } from './broadcast-progress.js';
import type { Position } from '../../engine/position.js';
import type { RecordOf } from '../../engine/records.js';

/** Where one (event, competing subscriber) pair stands. */
export type ItemStatus = 'claimed' | 'retry' | 'released' | 'done' | 'dead' | 'skipped';

export interface WorkItem {
  readonly eventPosition: Position;
  status: ItemStatus;
  /** Attempt number of the last winning claim (0 before the first). */
  attempt: number;
  owner: string | undefined;
  /** Position of the winning claim record: the fencing token. */
  claimPosition: Position | undefined;
  leaseUntil: number;
  /** Log time before which the next attempt may not start (delay, retry backoff). */
  availableAt: number;
  failures: number;
}

export interface SubscriberCounts {
  done: number;
  failed: number;
  dead: number;
  skipped: number;
  rejected: number;
}

export interface SubscriberState {
  readonly id: string;
  reg: RecordOf<'subscriber.registered'>;
  readonly registeredAt: Position;
  /** Log time of its first registration. */
  readonly registeredTime: number;
  deleted: boolean;
  /** Index into the queue's events: every event before it is finished for this subscriber. */
  finishedBelow: number;
  /** Items above the finishedBelow that were claimed or finished. */
  readonly items: Map<Position, WorkItem>;
  readonly counts: SubscriberCounts;
  /** With a rate limit: log times of the claims granted in the last `perMs`, oldest first. */
  readonly starts: number[];
  /** Broadcast: what each worker has handled (see broadcast-progress.ts). */
  readonly broadcast: Map<string, BroadcastProgress>;
  /**
   * Its dead events, in the order they died (all of them: redrive needs to know each one); a redriven
   * event leaves the set, and comes back last if it dies again.
   */
  readonly dead: Set<Position>;
  /**
   * Redriven events below the `finishedBelow` (finished when they were redriven), open again: their
   * items are in `items` until they finish again. Scans look at these first.
   */
  readonly revived: Set<Position>;
  /** Live reservations (`claim.reserved`) by worker, in the order they were first made. */
  readonly reservations: Map<string, Reservation>;
}

/** A worker's claim on the next events of a subscriber (`claim.reserved`). */
export interface Reservation {
  /** Events still to bind to it. */
  slots: number;
  /** Log time from which no event binds to it. */
  expiresAt: number;
  leaseMs: number;
}

export interface QueueState {
  readonly name: string;
  /**
   * Absolute index (among every event the queue indexed) of `positions[0]`: the events below it were
   * finished for every subscriber of the queue and dropped (event-index.ts). Indexes held elsewhere
   * (`finishedBelow`, broadcast progress) are absolute: `positions[i - base]`.
   */
  readonly base: number;
  /**
   * Positions of the queue's events from `base` on, ascending, and (same index) their availability
   * times, kept in typed arrays outside the JS heap, 16 bytes an event. The garbage collector neither
   * scans them nor sizes the heap by them (as number arrays, a million events were ~24 MB of old space,
   * which V8 lets grow to about 4× the live size before collecting). Each is a snapshot of the events
   * folded so far: read it again after the fold moved on.
   */
  readonly positions: Float64Array;
  readonly availableAt: Float64Array;
  /** Position of the latest `control.end`: workers running then drain what came before it and stop. */
  endedAt: Position | undefined;
  /** Position of the latest `control.interrupt`: workers running then abort in-flight work and stop. */
  interruptedAt: Position | undefined;
  /** Idempotency keys → position of the first event published with the key (within its window). */
  readonly keys: Map<string, Position>;
  /** Idempotency keys → log time their window ends (see keys.ts), in the order they were made. */
  readonly keyUntil: Map<string, number>;
  /** Competing subscribers of the queue holding reservations: new events bind to them. */
  readonly reserved: Set<SubscriberState>;
  /** Priorities of the events published with one other than 0 (higher first; FIFO within one). */
  readonly priorities: Map<Position, number>;
}

/** A raw claim (`token.claimed`): the first of its key in log order. */
export interface Token {
  readonly position: Position;
  readonly workerId: string;
  readonly time: number;
}

/** When and how a worker died (left, or no heartbeat for its liveness TTL). */
export interface Death {
  /** Log time from which it counts as dead. */
  readonly at: number;
  /** A few words: `exited with code 3`, `no heartbeat for 6000 ms`. */
  readonly how: string;
}

/** A worker's life as far as its claims go (see liveness.ts). */
export interface WorkerLife {
  /** Log time its last `worker.joined` / `worker.heartbeat` keeps it alive until. */
  until: number;
  /** Its liveness TTL, from its last beat. */
  ttlMs: number;
  /** Position of the beat that brought it back after a death: claims before it stay dead. */
  revivedAt: Position;
  /** Its `worker.left`, once folded (cleared by a later beat). */
  left: Death | undefined;
  /** Its last death before it came back. */
  lapse: Death | undefined;
}

/** The dispatch view: every queue's events, every subscriber's progress, claims and leases. */
export interface DispatchState {
  readonly queues: Map<string, QueueState>;
  readonly subscribers: Map<string, SubscriberState>;
  /** Raw claims (`queue.createClaim`): the first `token.claimed` of a key wins, forever. */
  readonly tokens: Map<string, Token>;
  /** Results that were fenced (rejected), by `resultRef`: rare, so kept. */
  readonly rejected: Set<number>;
  /** Workers by id, for the claims they hold (liveness.ts). */
  readonly workers: Map<string, WorkerLife>;
  /** Log time dead workers were last dropped from `workers`. */
  workersPrunedAt: number;
  /** How many events each recent `events.redriven` put back, by its position (the latest 64). */
  readonly redrives: Map<Position, number>;
  /** Log time and position of the last record folded. */
  time: number;
  position: Position;
}
