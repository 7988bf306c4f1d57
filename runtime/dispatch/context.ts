import type { Position } from '../../engine/position.js';
import type { DraftSource } from './drafts.js';
import type { RecordDraft, RecordOf } from '../../engine/records.js';
import type { QueueState } from '../../projections/dispatch/index.js';
import type { LiveViews } from '../live-views.js';
import type { ResolvedSubscribe } from '../subscribe-options.js';
import type { Matcher } from '../filter.js';
import type { HookSet } from '../hooks.js';
import type { HandlerContext, PublishOptions, QueueEvent } from '../types.js';

export type EventRecord = RecordOf<'event.published'>;

/**
 * What a dispatcher sees of its worker (as BullMQ's lock manager sees only a `LockManagerWorkerContext`):
 * the worker's id, views and timings, an append, the served queues' events, publishing follow-ups and
 * reporting errors. Implemented by the runtime's private worker.
 */
export interface DispatchContext {
  readonly workerId: string;
  readonly views: LiveViews;
  readonly leaseMs: number;
  readonly spreadGraceMs: number;
  /** How long the worker counts as alive after a heartbeat; a reservation lives as long unless renewed. */
  readonly livenessMs: number;
  append(drafts: RecordDraft[], sync: boolean): Promise<{ positions: readonly Position[] }>;
  /** Events of a queue by position: cached for served queues, else read. */
  events(queue: string, positions: readonly Position[]): Promise<Map<Position, EventRecord>>;
  /** A served queue's event, if cached: no read. */
  cachedEvent(queue: string, position: Position): EventRecord | undefined;
  publish(queue: string, payload: unknown, options: PublishOptions): Promise<QueueEvent>;
  /** An error dispatch cannot raise to anyone (the lease runs out and another worker takes over). */
  report(error: unknown): void;
}

/** One subscription a dispatcher runs: the subscriber, its options, filter and handler. */
export interface SubscriptionSpec {
  readonly subscriberId: string;
  readonly queue: string;
  readonly options: ResolvedSubscribe;
  readonly matcher: Matcher;
  readonly handler: (event: QueueEvent, ctx: HandlerContext) => unknown;
  /** Views position when the dispatcher was attached: control orders after it apply to it. */
  readonly attachedAt: Position;
  /** The manager's and the subscription's hooks; undefined when there are none. */
  readonly hooks?: HookSet | undefined;
}

/**
 * What the parts of one dispatcher (claim loop, broadcast cursor, reservations, attempts, result batch)
 * share, implemented by the dispatcher: its worker, its subscription, its mode and its bookkeeping.
 */
export interface DispatchScope {
  readonly ctx: DispatchContext;
  readonly spec: SubscriptionSpec;
  readonly source: DraftSource;
  /** True from stop() or an end/interrupt order on: nothing new is taken or started. */
  readonly stopping: boolean;
  /** Events this worker holds or is getting: running, held, being claimed, bound and being read. */
  taken(): number;
  /** True while this worker holds, runs or claims the event. */
  owns(p: Position): boolean;
  /** Position of an end order that came after attaching (events after it are not taken), or Infinity. */
  endsAt(q: QueueState): Position;
  /** True once an interrupt order came after attaching. */
  interrupted(q: QueueState): boolean;
  /** Keeps a write for stop() to wait for; a failure is reported. */
  track(write: Promise<unknown>): void;
  /** An attempt started (the next scan lets a turn pass first). */
  attemptStarted(): void;
  /** An attempt ended and freed its slot (one scan at the end of the turn). */
  slotFreed(): void;
}
