import { randomUUID } from 'node:crypto';
import { concatMap, defer, filter, from, map, mergeMap, startWith, switchMap, type Observable } from 'rxjs';
import { liveKey, tokenKey } from '../projections/dispatch/index.js';
import {
  claimRows,
  statsRows,
  subscriberRows,
  workerRows,
  type ClaimRow,
  type StatsRow,
  type SubscriberRow,
  type WorkerRow,
} from '../projections/view-rows.js';
import { InvalidArgumentError, NotFoundError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import { type RecordDraft, type RecordOf } from '../engine/records.js';
import type { AppendResult } from '../engine/storage.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { queueEvent, toQueueEvent } from './queue-event.js';
import { compileFilter } from './filter.js';
import { HookSet } from './hooks.js';
import type { QueueManager } from './manager.js';
import type { RuntimeWorker } from './worker.js';
import type { LogViews } from '../projections/replay.js';
import { publishDraft, validatePayload } from './publish-draft.js';
import { pageStart, paginate } from './paging.js';
import * as claims from './claim-queries.js';
import * as queries from './queue-queries.js';
import { registerSubscriber } from './register-subscriber.js';
import * as dead from './redrive.js';
import type { DeadEvent, DeadEventFilters } from './redrive.js';
import * as schedules from './schedule-api.js';
import type { ScheduleInfo } from './schedule-api.js';
import type { ScheduleOptions } from './schedule-options.js';
import { resolveSubscribe, unknownKeys } from './subscribe-options.js';
import { Subscriber, type Subscription } from './subscriber.js';
import type {
  ClaimFilters,
  EventFilters,
  Handler,
  Page,
  PageOptions,
  PublishOptions,
  QueueClaim,
  QueueEvent,
  QueueResult,
  ResultFilters,
  StandardSchemaV1,
  SubscribeOptions,
} from './types.js';

export interface QueueOptions<T> {
  /** Any Standard Schema (zod, valibot, arktype…): payloads are validated before they are appended. */
  readonly schema?: StandardSchemaV1<unknown, T>;
}

/** What a queue reaches of its manager's internals (the manager's public members are for users). */
export interface QueueContext {
  readonly manager: QueueManager;
  readonly worker: RuntimeWorker;
}

const PUBLISH_KNOWN = new Set([
  'correlationId',
  'causationId',
  'key',
  'keyTtl',
  'delay',
  'at',
  'headers',
  'tx',
  'priority',
]);

/** A typed, add-only queue on the manager's log. */
export class Queue<T = unknown> {
  /** RxJS views of this queue, updated as the log is folded. */
  readonly views: {
    /** Open work items of the queue's competing subscribers (finished work has left the hot view). */
    readonly claims$: Observable<ClaimRow[]>;
    /** Workers that host the queue (or did within the view's memory), alive by log time. */
    readonly workers$: Observable<WorkerRow[]>;
    /** The queue's registered subscribers with their progress. */
    readonly subscribers$: Observable<SubscriberRow[]>;
    /** Events published, results by status, throughput and the subscribers' progress. */
    readonly stats$: Observable<StatsRow>;
  };

  /** The manager this queue belongs to. */
  readonly manager: QueueManager;
  readonly #worker: RuntimeWorker;

  constructor(
    context: QueueContext,
    readonly name: string,
    private readonly options: QueueOptions<T>,
  ) {
    unknownKeys('queue option', options, new Set(['schema']));
    this.manager = context.manager;
    this.#worker = context.worker;
    const rt = context.worker.views;
    const live = <V>(view: () => V): Observable<V> => rt.ticks$.pipe(startWith(undefined), map(view));
    // A manager that does not follow yet starts now, and the view's first value waits for the catch-up.
    const on = <V>(view: () => V): Observable<V> =>
      defer(() => (rt.ready ? live(view) : from(rt.start()).pipe(switchMap(() => live(view)))));
    this.views = {
      claims$: on(() => claimRows(rt, [name])),
      workers$: on(() => workerRows(rt, [name])),
      subscribers$: on(() => liveSubscribers(rt, name)),
      stats$: on(() => statsRows(rt, [name])[0] ?? emptyStats(name)),
    };
  }

  /** This process's worker id. */
  get workerId(): string {
    return this.manager.workerId;
  }

  /**
   * Appends an event. With `key`, publishing is idempotent: a second publish with the same key returns
   * the first event. `delay` / `at` hold the event until its time.
   * @throws ValidationFailedError when the payload fails the queue's schema (nothing is appended).
   * @example const event = await queue.publish({ total: 120 }, { correlationId: 'order-7' });
   */
  async publish(payload: T, options: PublishOptions = {}): Promise<QueueEvent<T>> {
    const [event] = await this.#publish([payload], options);
    return event as QueueEvent<T>;
  }

  /** Appends several events atomically, in order, with the same options (no `key`). */
  async publishMany(
    payloads: readonly T[],
    options: Omit<PublishOptions, 'key'> = {},
  ): Promise<QueueEvent<T>[]> {
    if (!Array.isArray(payloads) || payloads.length === 0) {
      throw new InvalidArgumentError(
        `publishMany needs a non-empty array of payloads, got: ${JSON.stringify(payloads)}`,
      );
    }
    if ('key' in options)
      throw new InvalidArgumentError('publishMany does not take an idempotency key; publish one at a time');
    return this.#publish(payloads, options);
  }

  async #publish(payloads: readonly T[], options: PublishOptions): Promise<QueueEvent<T>[]> {
    unknownKeys('publish option', options, PUBLISH_KNOWN);
    // A log record has no `undefined`: it would be read back as something else (null, or no field).
    const missing = payloads.indexOf(undefined as T);
    if (missing >= 0) {
      throw new InvalidArgumentError(
        `payload must be a value (null, a number, a string, an object…), got: undefined${payloads.length > 1 ? ` at index ${missing}` : ''}`,
      );
    }
    const values = this.options.schema
      ? await Promise.all(payloads.map((p) => validatePayload(this.options.schema, this.name, p)))
      : payloads;
    const draft = publishDraft(this.name, options);
    const key = options.key;
    if (key !== undefined) {
      await this.manager.ready();
      const existing = liveKey(this.#worker.views.dispatch.queues.get(this.name), key, Date.now());
      if (existing !== undefined) return [await this.#eventAt(existing)];
    }
    // Object.assign, not a spread: on Node 20 the spread of a record costs several times more.
    const drafts = values.map((payload) => Object.assign({}, draft, { eventId: randomUUID(), payload }));
    // A stream from `new` subscribed before this publish counts it as new: following starts at the head
    // read when it was subscribed, so the append waits for that read.
    const starting = this.#worker.views.readingStartHead;
    if (starting !== undefined) await starting;
    const { positions, time } =
      options.tx === undefined
        ? await this.#worker.store.append(drafts)
        : await this.#appendIn(options, drafts);
    if (key !== undefined) {
      const mine = positions[0] as Position;
      await this.#worker.views.waitFor(mine);
      const winner = this.#worker.views.dispatch.queues.get(this.name)?.keys.get(key);
      if (winner !== undefined && winner !== mine) return [await this.#eventAt(winner)];
    }
    // The events as appended, from the drafts: no need to decode what was just encoded.
    return drafts.map((d, i) => queueEvent<T>(d, positions[i] as Position, time));
  }

  /** Appends in the caller's transaction (`options.tx`), on a store that can. */
  #appendIn(options: PublishOptions, drafts: readonly RecordDraft[]): Promise<AppendResult> {
    const { store } = this.#worker;
    if (options.key !== undefined) {
      // A keyed publish looks for its twin in the folded log, which cannot see an uncommitted one.
      throw new InvalidArgumentError('publish takes a key or a tx, not both');
    }
    if (store.appendWith === undefined) {
      throw new InvalidArgumentError(
        `publish with a tx needs a store on a transactional database (postgres://…), got: ${store.url}`,
      );
    }
    return store.appendWith(options.tx, drafts);
  }

  async #eventAt(position: Position): Promise<QueueEvent<T>> {
    const e = await queries.eventAt<T>(this.#worker, position);
    if (!e) throw new NotFoundError('event at position', String(position));
    return e;
  }

  /**
   * Runs `handler` for this queue's events in this process, under the subscriber `name` (registered in
   * the log once; workers started later see it).
   * @throws InvalidArgumentError for an unknown option or a bad JMESPath filter (nothing is appended).
   */
  async subscribe(
    handler: Handler<T> | Subscriber<T>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const isClass = handler instanceof Subscriber;
    if (!isClass && typeof handler !== 'function') {
      throw new InvalidArgumentError('subscribe needs a handler function or a Subscriber instance');
    }
    const fn: Handler<T> = isClass ? (e, ctx) => handler.onEvent(e, ctx) : handler;
    const merged = isClass ? { ...handler.options, ...options } : options;
    const resolved = resolveSubscribe(merged, isClass ? handler.constructor.name : handler.name);
    const matcher = compileFilter(resolved.filter, resolved.predicates);
    const subscriberId = `${this.name}/${resolved.name}`;
    const hooks = HookSet.of(this.#worker.hooks, ...resolved.hooks);
    await this.manager.ready();
    await registerSubscriber(this.#worker, this.name, subscriberId, resolved);
    const d = new Dispatcher(this.#worker, {
      subscriberId,
      queue: this.name,
      options: resolved,
      matcher,
      handler: fn as Handler<unknown>,
      attachedAt: this.#worker.views.position,
      hooks,
    });
    await HookSet.of(...resolved.hooks)?.run('onStart', {
      workerId: this.#worker.workerId,
      queue: this.name,
      subscriber: resolved.name,
    });
    await this.#worker.attach(d);
    let deleted = false;
    return {
      subscriberId,
      name: resolved.name,
      queue: this.name,
      stop: () => this.#worker.detach(d),
      get done() {
        return d.done();
      },
      unsubscribe: async () => {
        const sub = this.#worker.views.dispatch.subscribers.get(subscriberId);
        if (deleted || !sub || sub.deleted) return false;
        deleted = true;
        const { positions } = await this.#worker.store.append([
          { type: 'subscriber.deleted', queue: this.name, subscriberId },
        ]);
        await this.#worker.views.waitFor(positions[0] as Position);
        await this.#worker.detach(d);
        return true;
      },
    };
  }

  /**
   * Drains: workers finish the events published before this call, then stop (also workers started
   * later, while their subscriber has events from before it left: see `Subscription.done`). Waits up to
   * `timeout` for the drain and interrupts what is left; `wait: false` only appends the end order.
   */
  async end(options: { timeout?: number; wait?: boolean } = {}): Promise<{ drained: boolean }> {
    const timeout = options.timeout ?? 30_000;
    const { positions } = await this.#worker.store.append([
      { type: 'control.end', queue: this.name, timeout },
    ]);
    if (options.wait === false) return { drained: false };
    const drained = await queries.waitDrained(this.#worker, this.name, positions[0] as Position, timeout);
    if (!drained) await this.interrupt();
    return { drained };
  }

  /**
   * Aborts in-flight handlers of this queue everywhere now; workers running now stop. The aborted
   * attempts are recorded `failed` with an InterruptedError and retried, while the subscriber's retry
   * limit allows, by the workers that come next (whatever `retryOn` says: the handler did not fail).
   */
  async interrupt(): Promise<void> {
    await this.#worker.store.append([{ type: 'control.interrupt', queue: this.name }]);
  }

  // Dead events

  /**
   * The dead events of a competing subscriber (failed with no retry left), in the order they died,
   * filtered by ids, the time they died and their last error; all of them, never capped.
   * @throws NotFoundError when the queue has no such subscriber; InvalidArgumentError for a bad filter
   * or a broadcast subscriber.
   */
  deadEvents(filters: DeadEventFilters): Promise<DeadEvent[]> {
    return dead.deadEvents(this.#worker, this.name, filters);
  }

  /**
   * Puts the matching dead events of a competing subscriber back to pending with a fresh retry budget
   * (their next attempt is 1 again), with one `events.redriven` record; resolves with how many were put
   * back. Only events still dead when the record is folded are (each once, however many redrives race).
   * @throws as {@link deadEvents}.
   * @example await queue.redrive({ subscriber: 'bill', errorMatches: 'ECONNREFUSED' });
   */
  redrive(filters: DeadEventFilters): Promise<number> {
    return dead.redrive(this.#worker, this.name, filters);
  }

  // Schedules

  /**
   * Creates or replaces (upsert) the schedule `id` of this queue: each slot publishes one event with
   * `payload`, the idempotency key `schedule:<id>:<slot ISO>` and headers `scheduleId`, `scheduledFor`,
   * in whichever processes host a subscriber of the queue. A replaced definition takes effect from the
   * next slot. Replacing with the same definition appends nothing.
   * @throws InvalidArgumentError for a bad option (nothing is appended).
   * @example await queue.schedule('nightly', { cron: '0 3 * * *', tz: 'Europe/Paris', payload: { kind: 'report' } });
   */
  schedule(id: string, options: ScheduleOptions<T>): Promise<ScheduleInfo<T>> {
    return schedules.schedule<T>(this.#worker, this.name, id, options);
  }
  /** Removes a schedule: true once, false when it is not there (any more). */
  unschedule(id: string): Promise<boolean> {
    return schedules.unschedule(this.#worker, this.name, id);
  }
  /**
   * A schedule's definition, next slot, last slot fired, count fired and whether it ended.
   * @throws NotFoundError when the queue has no schedule `id`.
   */
  getSchedule(id: string): Promise<ScheduleInfo<T>> {
    return schedules.getSchedule<T>(this.#worker, this.name, id);
  }
  /** The queue's schedules, in the order they were added, a page at a time. */
  searchSchedules(options: PageOptions = {}): Promise<Page<ScheduleInfo<T>>> {
    return schedules.searchSchedules<T>(this.#worker, this.name, options);
  }

  // Queries (Eventy's API)

  getEvent(id: string): Promise<QueueEvent<T>> {
    return queries.getEvent<T>(this.#worker, this.name, id);
  }
  batchGetEvents(ids: readonly string[]): Promise<(QueueEvent<T> | null)[]> {
    return queries.batchGetEvents<T>(this.#worker, this.name, ids);
  }
  searchEvents(options: PageOptions & EventFilters = {}): Promise<Page<QueueEvent<T>>> {
    return queries.searchEvents<T>(this.#worker, this.name, options);
  }
  countEvents(filters: EventFilters = {}): Promise<number> {
    return queries.countEvents(this.#worker, this.name, filters);
  }
  /**
   * The results recorded for an event, in log order. Results a worker recorded after it had lost the
   * lease (fenced: `accepted: false`) are left out unless `includeRejected` is true.
   */
  getResults(eventId: string, options: { includeRejected?: boolean } = {}): Promise<QueueResult[]> {
    return queries.getResults(this.#worker, this.name, eventId, options);
  }
  /** A result by its id (`QueueResult.id`), fenced or not. @throws NotFoundError */
  getResult(resultId: string): Promise<QueueResult> {
    return queries.getResult(this.#worker, this.name, resultId);
  }
  /** Results by id, null where none. */
  batchGetResults(resultIds: readonly string[]): Promise<(QueueResult | null)[]> {
    return queries.batchGetResults(this.#worker, this.name, resultIds);
  }
  /** How many results match (the filters of {@link searchResults}). */
  countResults(filters: ResultFilters = {}): Promise<number> {
    return queries.countResults(this.#worker, this.name, filters);
  }
  searchResults(options: PageOptions & ResultFilters = {}): Promise<Page<QueueResult>> {
    return queries.searchResults(this.#worker, this.name, options);
  }
  /**
   * Resolves with the final result of an event (ok, skipped, or failed with no retry left). For an event
   * redriven since it died (`redrive`), the final result of its new attempts: the dead one no longer is.
   * @throws NotFoundError at once when no event with this id is in the log.
   * @throws AbortedError when `signal` aborts (the signal's reason is its `cause`).
   */
  waitForResult(
    eventId: string,
    options: { subscriber?: string; signal?: AbortSignal } = {},
  ): Promise<QueueResult> {
    return queries.waitForResult(this.#worker, this.name, eventId, options);
  }
  /** Eventy's raw claim: true for the first caller ever, false after. */
  async createClaim(claimId: string, data?: unknown): Promise<boolean> {
    if (typeof claimId !== 'string' || claimId === '') {
      throw new InvalidArgumentError(`claimId must be a non-empty string, got: ${JSON.stringify(claimId)}`);
    }
    const rt = this.#worker.views;
    await this.manager.ready();
    if (rt.dispatch.tokens.has(tokenKey(this.name, claimId))) return false;
    const draft = {
      type: 'token.claimed' as const,
      queue: this.name,
      claimId,
      workerId: this.workerId,
      ...(data === undefined ? {} : { data }),
    };
    const { positions } = await this.#worker.store.append([draft]);
    await rt.waitFor(positions[0] as Position);
    return rt.dispatch.tokens.get(tokenKey(this.name, claimId))?.position === positions[0];
  }
  getClaim(claimId: string): Promise<QueueClaim> {
    return claims.getClaim(this.#worker, this.name, claimId);
  }
  /** Raw claims by id, null where none. */
  batchGetClaims(claimIds: readonly string[]): Promise<(QueueClaim | null)[]> {
    return claims.batchGetClaims(this.#worker, this.name, claimIds);
  }
  searchClaims(options: PageOptions & ClaimFilters = {}): Promise<Page<QueueClaim>> {
    return claims.searchClaims(this.#worker, this.name, options);
  }
  countClaims(filters: ClaimFilters = {}): Promise<number> {
    return claims.countClaims(this.#worker, this.name, filters);
  }
  /** The subscribers of the queue that are not deleted, oldest registration first. */
  async searchSubscriptions(options: PageOptions = {}): Promise<Page<SubscriberRow>> {
    pageStart(options);
    await queries.caughtUp(this.#worker);
    return paginate(liveSubscribers(this.#worker.views, this.name), options, (s) => s.registeredPosition);
  }
  /** @throws NotFoundError when the queue has no such subscriber (or it was deleted). */
  async getSubscription(name: string): Promise<SubscriberRow> {
    await queries.caughtUp(this.#worker);
    const row = liveSubscribers(this.#worker.views, this.name).find((s) => s.name === name);
    if (!row) throw new NotFoundError('subscription', `${this.name}/${name}`);
    return row;
  }
  async countSubscriptions(): Promise<number> {
    await queries.caughtUp(this.#worker);
    return liveSubscribers(this.#worker.views, this.name).length;
  }

  /** The queue's events as they are published (`from`: `new` by default, `earliest`, or a position). */
  events$(options: { from?: 'new' | 'earliest' | Position } = {}): Observable<QueueEvent<T>> {
    return this.manager.records$({ ...options, types: ['event.published'] }).pipe(
      filter((r) => (r as RecordOf<'event.published'>).queue === this.name),
      map((r) => toQueueEvent<T>(r as RecordOf<'event.published'>)),
    );
  }

  /**
   * The queue's results as they are recorded. Each waits until the fold has it (a result's `accepted`
   * is the fold's verdict), which starts following on a manager that did not yet.
   */
  results$(options: { from?: 'new' | 'earliest' | Position } = {}): Observable<QueueResult> {
    const rt = this.#worker.views;
    return this.manager.records$({ ...options, types: ['result.recorded', 'results.recorded'] }).pipe(
      filter((r) => (r as { queue?: unknown }).queue === this.name),
      concatMap((r) => (r.position <= rt.position ? [r] : from(rt.waitFor(r.position)).pipe(map(() => r)))),
      mergeMap((r) => queries.resultsOf(this.#worker, r)),
    );
  }
}

/** The queue's subscribers that are not deleted. */
function liveSubscribers(views: LogViews, queue: string): SubscriberRow[] {
  return subscriberRows(views, [queue]).filter((s) => !s.deleted);
}

/** The stats of a queue nothing was published to yet. */
function emptyStats(queue: string): StatsRow {
  return { queue, published: 0, ok: 0, failed: 0, timeout: 0, skipped: 0, throughput: 0, subscribers: [] };
}
