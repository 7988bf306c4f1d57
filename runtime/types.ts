import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Position } from '../engine/position.js';
import type { Delivery, ErrorInfo, EventHeaders, ResultStatus } from '../engine/records.js';
import type { Hooks } from './hooks.js';

/** An event as handlers and queries see it. */
export interface QueueEvent<T = unknown> {
  readonly id: string;
  readonly position: Position;
  readonly queue: string;
  readonly payload: T;
  /** Log time of the publish (ms since the epoch). */
  readonly publishedAt: number;
  readonly headers: EventHeaders;
  /** Log time before which the event is not handed out (delay / at). */
  readonly availableAt: number;
  /** Its priority, when published with one other than 0 (higher first). */
  readonly priority?: number;
}

/** Options of `queue.publish`. */
export interface PublishOptions {
  readonly correlationId?: string;
  readonly causationId?: string;
  /**
   * Idempotency key: a second publish with the same key within `keyTtl` returns the first event; after
   * it, the key names nothing and a publish with it is a new event.
   */
  readonly key?: string;
  /** How long the key names this event, in ms of log time; default 24 hours. */
  readonly keyTtl?: number;
  /** Hold the event this many ms after it is published. */
  readonly delay?: number;
  /** Hold the event until this time (ms since the epoch, or a Date). */
  readonly at?: number | Date;
  /** User headers (string values). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Among a queue's available events, higher priorities are handed out first, FIFO within one priority
   * (a whole number, default 0; negative for after the rest). Decided by the fold, so alike in every worker.
   */
  readonly priority?: number;
  /**
   * A transaction of the store's database, open (PostgreSQL: a `pg` client between `BEGIN` and
   * `COMMIT`): the events are appended in it, so they are in the log if and only if it commits. Only on
   * a store that has `appendWith`; not with `key`.
   */
  readonly tx?: unknown;
}

/** What a handler receives beside the event. */
export interface HandlerContext {
  /** Aborted on timeout, interrupt, shutdown, or when the lease was lost. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly workerId: string;
  readonly subscriber: string;
  /**
   * Publishes a follow-up event: causationId is the handled event, correlationId carried over. A function
   * property, so `const { publish } = ctx` works.
   */
  readonly publish: <U>(payload: U, options?: PublishOptions & { queue?: string }) => Promise<QueueEvent<U>>;
}

export type Handler<T> = (event: QueueEvent<T>, ctx: HandlerContext) => unknown;

/** An error class or a predicate deciding whether a failure may be retried. */
export type RetryOn = readonly (abstract new (...args: never[]) => Error)[] | ((error: unknown) => boolean);

export interface RetryOptions {
  /** Retries after the first attempt; default 0. */
  readonly limit?: number;
  /** Backoff before the first retry, doubled each time (ms); default 1000. */
  readonly minBackoff?: number;
  /** Cap of the backoff (ms); default 60000. */
  readonly maxBackoff?: number;
  /** Which failures are retried; default every one. */
  readonly retryOn?: RetryOn;
}

/** A filter predicate: true to take the event. It must answer at once (a promise counts as no match). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any payload type unless given
export type FilterPredicate<T = any> = (event: QueueEvent<T>) => boolean;

/** A subscriber's filter: JMESPath expressions and predicates, one or several (see `SubscribeOptions`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any payload type unless given
export type Filter<T = any> = string | FilterPredicate<T> | readonly (string | FilterPredicate<T>)[];

/** Options of `queue.subscribe`. */
export interface SubscribeOptions {
  /** The subscriber (consumer group): one registration per name and queue. Default the handler's name. */
  readonly name?: string;
  /**
   * Which events the subscriber takes (the others get a `skipped` result): a JMESPath expression over
   * `{ id, queue, payload, headers, publishedAt }`, a predicate `(event) => boolean`, or several of
   * either combined by `operator`. One that throws counts as no match. Predicates run in the worker's
   * process only: the log's `subscriber.registered` names them (`filter.predicates`), it cannot hold them.
   */
  readonly filter?: Filter;
  readonly operator?: 'all' | 'any';
  /** `competing` (default): one worker per event; `broadcast`: every worker hosting it. */
  readonly delivery?: Delivery;
  /** Handlers run at once in this process; default 10. */
  readonly concurrency?: number;
  /**
   * Events a competing worker may claim ahead of its free slots, so the next ones are ready when a
   * handler finishes; their leases are extended while they wait. 0 turns it off. Default: as many as
   * the worker runs in two claim trips at its current rate, at least `concurrency`, at most 256 (or
   * `concurrency`): quick handlers on a store with a slow round trip get a deeper window, slow ones
   * stay at `concurrency`.
   */
  readonly prefetch?: number;
  /**
   * Competing: keep this worker's free slots reserved for the events to come (`claim.reserved`), so a
   * new event is bound to it as it is appended and runs as soon as the worker's fold has it — one trip
   * through the log instead of two (event, then claim). Renewed with the heartbeat; cancelled on stop.
   * Default true; false claims every event after seeing it.
   */
  readonly reserve?: boolean;
  /** Handler time limit (ms); 0 (default) for none. */
  readonly timeout?: number;
  readonly retry?: RetryOptions;
  /** Where a new subscriber starts: `new` (default), `earliest`, or a position. */
  readonly from?: 'new' | 'earliest' | Position;
  /**
   * Competing: at most `max` handler starts per `perMs` across all workers of the subscriber, decided
   * by the fold from the log (claims past it are not granted); the wait shows in `inspect`.
   */
  readonly rateLimit?: { readonly max: number; readonly perMs: number };
  /** Lifecycle hooks of this subscription, after the manager's (see {@link Hooks}); a list runs in order. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any payload type: hooks are per queue
  readonly hooks?: Hooks<any> | readonly Hooks<any>[];
}

/** One result as queries return it. */
export interface QueueResult {
  /** The result's id (`getResult`): its record's position, with `.item` for one of several recorded together. */
  readonly id: string;
  /** Position of the record holding the result. */
  readonly position: Position;
  /** Set when the result is one item of a `results.recorded` (results recorded together): its index. */
  readonly item?: number;
  readonly eventId: string;
  readonly eventPosition: Position;
  readonly queue: string;
  readonly subscriber: string;
  readonly workerId: string;
  readonly attempt: number;
  readonly status: ResultStatus;
  readonly details?: unknown;
  readonly error?: ErrorInfo;
  readonly retryAt?: number;
  /**
   * Set when the worker `workerId` died holding the event and another worker recorded this `failed`
   * result for it (`error.name` `WorkerCrashedError`): the recording worker.
   */
  readonly reportedBy?: string;
  readonly durationMs: number;
  readonly recordedAt: number;
  /** False when the result came from a worker that no longer held the lease (fenced). */
  readonly accepted: boolean;
}

/** A page of a search: `nextPageId` is null on the last page. */
export interface Page<T> {
  readonly items: T[];
  readonly nextPageId: string | null;
}

export interface PageOptions {
  readonly pageId?: string | null;
  /** 1–100; default 100. */
  readonly limit?: number;
}

export interface EventFilters {
  readonly publishedAfter?: number | Date;
  readonly publishedBefore?: number | Date;
}

export interface ResultFilters {
  readonly eventId?: string;
  readonly workerId?: string;
  readonly subscriber?: string;
  readonly status?: ResultStatus;
  readonly recordedAfter?: number | Date;
  readonly recordedBefore?: number | Date;
  /** Include results fenced off because their worker had lost the lease (`accepted: false`); default false. */
  readonly includeRejected?: boolean;
}

export interface ClaimFilters {
  readonly workerId?: string;
  readonly createdAfter?: number | Date;
  readonly createdBefore?: number | Date;
}

/** A raw claim (`createClaim`). */
export interface QueueClaim {
  readonly claimId: string;
  readonly queue: string;
  readonly workerId: string;
  readonly data?: unknown;
  readonly createdAt: number;
  readonly position: Position;
}

export type { StandardSchemaV1 };
