import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { filter, Observable } from 'rxjs';
import { liveRecords$ } from '../projections/live.js';
import {
  claimRows,
  reservationRows,
  statsRows,
  subscriberRows,
  workerRows,
  type ClaimRow,
  type ReservationRow,
  type StatsRow,
  type SubscriberRow,
  type WorkerRow,
} from '../projections/view-rows.js';
import { ClosedError, InvalidArgumentError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import {
  isKnownRecord,
  RECORD_TYPES,
  type RecordDraft,
  type RecordOf,
  type RecordType,
  type Delivery,
  type StoredRecord,
} from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import type { Dispatcher, DispatchHost } from './dispatcher.js';
import { checkName } from './names.js';
import { installSignalHandlers } from './signals.js';
import { LiveViews } from './live-views.js';
import { QueryIndex, readPositions } from './query-index.js';
import { Queue, type QueueOptions } from './queue.js';
import { unknownKeys } from './subscribe-options.js';
import type { PublishOptions, QueueEvent } from './types.js';

/** What {@link QueueManager.inspect} returns: the views as rows, at `position`. */
export interface Inspection {
  /** Position of the last record folded; -1 before the first (or while the manager does not follow). */
  readonly position: Position;
  /** Log time of the last record folded; 0 before the first. */
  readonly time: number;
  /** True once the manager follows the log (something needed the views). */
  readonly following: boolean;
  /** True once the fold caught up with the head as it was when following started. */
  readonly ready: boolean;
  /** This process's worker id. */
  readonly workerId: string;
  readonly subscribers: readonly SubscriberRow[];
  readonly claims: readonly ClaimRow[];
  readonly workers: readonly WorkerRow[];
  readonly stats: readonly StatsRow[];
  readonly reservations: readonly ReservationRow[];
  /** The subscriptions this manager hosts, with their resolved options. */
  readonly hosted: readonly HostedRow[];
}

/** One subscription hosted by this manager. */
export interface HostedRow {
  readonly queue: string;
  /** The subscriber's name. */
  readonly subscriber: string;
  readonly delivery: Delivery;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly timeout: number;
  /** True once it stopped taking work (stopped, ended, interrupted, or the manager closing). */
  readonly stopped: boolean;
}

/** Options of {@link createManager}. */
export interface ManagerOptions {
  /** Stops the manager (gracefully, like SIGTERM) when aborted. */
  readonly signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers that drain and stop; default true. */
  readonly handleSignals?: boolean;
  /** This process's worker id; default `<host>:<pid>:<random>`. */
  readonly workerId?: string;
  /** Claim lease (ms), extended while a handler runs; default 30000. */
  readonly leaseMs?: number;
  /** Heartbeat interval (ms); a worker silent for 3 intervals counts as dead; default 2000. */
  readonly heartbeatMs?: number;
  /** How long shutdown waits for in-flight handlers before releasing them (ms); default 10000. */
  readonly shutdownTimeout?: number;
  /** How long an event waits for the worker it hashes to before any worker may take it (ms); default 500. */
  readonly spreadGraceMs?: number;
  /** Close the store when the manager closes; default true. */
  readonly ownsStore?: boolean;
  /**
   * When the manager starts following and folding the log: `lazy` (default) when something first needs
   * it — subscribe, a query, a view, a keyed publish, `ready()` — so a process that only publishes never
   * reads the log; `eager` before `createManager` resolves.
   */
  readonly fold?: 'lazy' | 'eager';
}

const KNOWN = new Set([
  'signal',
  'handleSignals',
  'workerId',
  'leaseMs',
  'heartbeatMs',
  'shutdownTimeout',
  'spreadGraceMs',
  'ownsStore',
  'fold',
  'store',
]);

/**
 * Creates a manager on an open log store (with `fold: 'eager'`, folds the log up to its head first). Most
 * users call the root package's `createQueueManager({ store: 'file:.eventy' })`, which opens the store
 * from a URL.
 */
export async function createManager(store: LogStore, options: ManagerOptions = {}): Promise<QueueManager> {
  unknownKeys('manager option', options, KNOWN);
  const fold: unknown = options.fold; // from JavaScript callers, anything
  if (fold !== undefined && fold !== 'lazy' && fold !== 'eager') {
    throw new InvalidArgumentError(`fold must be 'lazy' or 'eager', got: ${JSON.stringify(fold)}`);
  }
  const manager = new QueueManager(store, options);
  try {
    if (options.fold === 'eager') await manager.ready();
  } catch (e) {
    await manager.close().catch(() => undefined); // uninstalls signal handlers, closes an owned store
    throw e;
  }
  return manager;
}

/** The entry point to one log's queues. Holds the store, the live fold and this process's worker. */
export class QueueManager implements DispatchHost {
  readonly workerId: string;
  readonly runtime: LiveViews;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly spreadGraceMs: number;
  readonly shutdownTimeout: number;
  readonly dispatchers = new Set<Dispatcher>();
  readonly index: QueryIndex;
  #queues = new Map<string, Queue>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #keepalive: NodeJS.Timeout | undefined;
  #joined = false;
  #hostedQueues = new Map<string, Map<Position, RecordOf<'event.published'>>>();
  #uninstall: () => void = () => undefined;
  readonly errors: unknown[] = [];

  constructor(
    readonly store: LogStore,
    private readonly options: ManagerOptions,
  ) {
    this.workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.leaseMs = positive('leaseMs', options.leaseMs ?? 30_000);
    this.heartbeatMs = positive('heartbeatMs', options.heartbeatMs ?? 2000);
    this.spreadGraceMs = positive('spreadGraceMs', options.spreadGraceMs ?? 500, 0);
    this.shutdownTimeout = positive('shutdownTimeout', options.shutdownTimeout ?? 10_000, 0);
    this.runtime = new LiveViews(store);
    this.index = new QueryIndex(store, this.runtime);
    this.runtime.ticks$.subscribe(() => {
      for (const d of this.dispatchers) d.tick();
    });
    this.runtime.taps.add((r) => this.#cacheEvent(r));
    if (options.handleSignals !== false) this.#uninstall = installSignalHandlers(() => this.close());
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /**
   * A typed queue by name (created on first use; queues are add-only). `schema` is any Standard Schema
   * (zod, valibot, arktype…) that payloads must pass before anything is appended.
   */
  queue<T = unknown>(name: string, options: QueueOptions<T> = {}): Queue<T> {
    this.#check();
    checkName('queue', name);
    let q = this.#queues.get(name) as Queue<T> | undefined;
    if (!q || options.schema !== undefined) {
      q = new Queue<T>(this, name, options);
      this.#queues.set(name, q);
    }
    return q;
  }

  /**
   * Starts following the log if it had not, and resolves once the fold has caught up with the head as it
   * was then: the views (`runtime.dispatch`, …) hold every record appended before.
   */
  ready(): Promise<void> {
    return this.runtime.start();
  }

  /**
   * What this manager's folds hold now, as rows: subscribers with their progress, open claims, workers,
   * per-queue stats, live reservations, and the subscriptions this process hosts. Read-only and
   * synchronous: it shows the log up to `position` (the last record folded). A manager folds lazily, so
   * `await manager.ready()` first to see every record appended before.
   * @example
   * await manager.ready();
   * const { subscribers } = manager.inspect({ queues: ['orders'] });
   */
  inspect(options: { queues?: readonly string[] } = {}): Inspection {
    const queues = options.queues ?? [];
    const rt = this.runtime;
    return {
      position: rt.position,
      time: rt.time,
      following: rt.following,
      ready: rt.following && rt.ready,
      workerId: this.workerId,
      subscribers: subscriberRows(rt, queues),
      claims: claimRows(rt, queues),
      workers: workerRows(rt, queues),
      stats: statsRows(rt, queues),
      reservations: reservationRows(rt, queues),
      hosted: [...this.dispatchers]
        .filter((d) => queues.length === 0 || queues.includes(d.queue))
        .map((d) => ({
          queue: d.queue,
          subscriber: d.options.name,
          delivery: d.options.delivery,
          concurrency: d.options.concurrency,
          prefetch: d.options.prefetch,
          timeout: d.options.timeout,
          stopped: d.stopped,
        })),
    };
  }

  /**
   * Every record of the log as it is appended, from `from`: `new` (default, what is appended from now
   * on), `earliest`, or a position. `types` keeps only records of those types (e.g.
   * `['result.recorded', 'results.recorded']`), and the stream is typed to them. Records of types this
   * release does not know (written by a newer one) are left out.
   * @throws InvalidArgumentError for a type that is not a record type.
   * @example manager.records$({ types: ['result.recorded'] }).subscribe((r) => console.log(r.status));
   */
  records$<T extends RecordType = RecordType>(
    options: { from?: 'new' | 'earliest' | Position; types?: readonly T[] } = {},
  ): Observable<RecordOf<T>> {
    const origin = options.from ?? 'new';
    const start = origin === 'earliest' ? 0 : origin === 'new' ? undefined : origin;
    const bad = options.types?.find((t) => !RECORD_TYPES.includes(t));
    if (bad !== undefined) {
      throw new InvalidArgumentError(
        `records$ types must be record types (${RECORD_TYPES.join(', ')}), got: ${JSON.stringify(bad)}`,
      );
    }
    const types = new Set<string>(options.types ?? RECORD_TYPES);
    const source = start === undefined ? this.#newRecords$() : liveRecords$(this.store, start);
    return source.pipe(filter((r): r is RecordOf<T> => types.has(r.type)));
  }

  /**
   * The records folded from now on. A manager that does not follow yet starts, and `now` is the head
   * when it started; one still catching up skips what was there when it started.
   */
  #newRecords$(): Observable<StoredRecord> {
    const rt = this.runtime;
    if (rt.ready) return rt.records$.asObservable();
    return new Observable<StoredRecord>((subscriber) => {
      const inner = rt.records$.pipe(filter((r) => r.position >= rt.startHead)).subscribe(subscriber);
      rt.start().catch((e: unknown) => subscriber.error(e));
      return inner;
    });
  }

  // DispatchHost

  async append(drafts: RecordDraft[], sync: boolean): Promise<{ positions: readonly Position[] }> {
    return this.store.append(drafts, { sync });
  }

  cachedEvent(queue: string, position: Position): RecordOf<'event.published'> | undefined {
    return this.#hostedQueues.get(queue)?.get(position);
  }

  /** How long this worker counts as alive after a heartbeat (`ttlMs`); its reservations live as long. */
  get livenessMs(): number {
    return this.heartbeatMs * 3;
  }

  async events(
    queue: string,
    positions: readonly Position[],
  ): Promise<Map<Position, RecordOf<'event.published'>>> {
    const cache = this.#hostedQueues.get(queue);
    const out = new Map<Position, RecordOf<'event.published'>>();
    const missing: Position[] = [];
    for (const p of positions) {
      const hit = cache?.get(p);
      if (hit) out.set(p, hit);
      else missing.push(p);
    }
    if (missing.length === 0) return out;
    if (cache) await this.#readAhead(queue, cache, Math.min(...missing));
    const still = missing.filter((p) => {
      const hit = cache?.get(p);
      if (hit) out.set(p, hit);
      return !hit;
    });
    for (const [p, r] of await readPositions(this.store, still)) {
      if (isKnownRecord(r) && r.type === 'event.published') out.set(p, r);
    }
    return out;
  }

  /**
   * A cache miss (a backlog deeper than the cache): read the log ahead from there once and cache the
   * queue's events, so the next dispatches find them, instead of one read per claim batch.
   */
  async #readAhead(
    queue: string,
    cache: Map<Position, RecordOf<'event.published'>>,
    from: Position,
  ): Promise<void> {
    for await (const r of this.store.read({ from, to: from + READ_AHEAD })) {
      if (r.type === 'event.published' && (r as RecordOf<'event.published'>).queue === queue) {
        cache.set(r.position, r as RecordOf<'event.published'>);
      }
    }
  }

  publish(queue: string, payload: unknown, options: PublishOptions): Promise<QueueEvent> {
    return this.queue(queue).publish(payload, options);
  }

  report(error: unknown): void {
    this.errors.push(error);
    if (this.errors.length > 100) this.errors.shift();
    if (process.env.EVENTY_DEBUG) console.error('[eventy]', error);
  }

  /** Starts hosting: caches the queue's events for dispatch and announces the worker. */
  async host(dispatcher: Dispatcher): Promise<void> {
    if (!this.#hostedQueues.has(dispatcher.queue)) this.#hostedQueues.set(dispatcher.queue, new Map());
    if ([...this.dispatchers].some((d) => d.subscriberId === dispatcher.subscriberId))
      dispatcher.shareHosting();
    this.dispatchers.add(dispatcher);
    await this.#beat(this.#joined ? 'worker.heartbeat' : 'worker.joined');
    this.#joined = true;
    this.#keepalive ??= setInterval(
      () => void this.#keepAlive(),
      Math.min(this.heartbeatMs, this.leaseMs / 3),
    );
    dispatcher.tick();
  }

  async unhost(dispatcher: Dispatcher): Promise<void> {
    await dispatcher.stop(this.shutdownTimeout);
    this.dispatchers.delete(dispatcher);
    if (![...this.dispatchers].some((d) => d.queue === dispatcher.queue))
      this.#hostedQueues.delete(dispatcher.queue);
    await this.#beat('worker.heartbeat');
  }

  /** Drains in-flight work (up to `shutdownTimeout`), releases the rest, appends `worker.left`, closes. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#uninstall();
    await Promise.all([...this.dispatchers].map((d) => d.stop(this.shutdownTimeout)));
    if (this.#keepalive) clearInterval(this.#keepalive);
    try {
      if (this.#joined) await this.#beat('worker.left');
    } catch (e) {
      this.report(e);
    }
    await this.runtime.stop();
    if (this.options.ownsStore !== false) await this.store.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('queue manager');
  }

  async #keepAlive(): Promise<void> {
    const drafts: RecordDraft[] = [this.#beatDraft('worker.heartbeat')];
    for (const d of this.dispatchers) {
      if (d.options.delivery !== 'competing') continue;
      const renewal = d.renewal();
      if (renewal) drafts.push(renewal);
      for (const [p, r] of [...d.running, ...d.won]) {
        drafts.push({
          type: 'claim.extended',
          queue: d.queue,
          eventId: r.eventId,
          eventPosition: p,
          subscriberId: d.subscriberId,
          workerId: this.workerId,
          attempt: r.attempt,
          leaseMs: this.leaseMs,
        });
      }
    }
    try {
      await this.store.append(drafts, { sync: false });
    } catch (e) {
      this.report(e);
    }
  }

  async #beat(type: 'worker.joined' | 'worker.heartbeat' | 'worker.left'): Promise<void> {
    await this.store.append([this.#beatDraft(type)], { sync: type === 'worker.left' });
  }

  #beatDraft(type: 'worker.joined' | 'worker.heartbeat' | 'worker.left'): RecordDraft {
    const subscribers = [
      ...new Set([...this.dispatchers].filter((d) => !d.stopped).map((d) => d.subscriberId)),
    ];
    const queues = [...new Set([...this.dispatchers].map((d) => d.queue))];
    const base = { workerId: this.workerId, host: os.hostname(), pid: process.pid, queues, subscribers };
    return type === 'worker.left'
      ? { type, ...base, reason: 'shutdown' }
      : { type, ...base, ttlMs: this.livenessMs };
  }

  /**
   * Keeps the events of hosted queues that are not yet handled, so dispatch needs no read. Handled events
   * are dropped as new ones come (every {@link PRUNE_EVERY}), not only once the cache is full: a full
   * cache of handled events was ~10 MB of old space, which V8 lets grow to about 4× before collecting.
   * Bounded: if it is full of unhandled events (a deep backlog), newer events are not cached and dispatch
   * reads them from the log in ranges when their turn comes.
   */
  #cacheEvent(r: StoredRecord): void {
    if (r.type !== 'event.published') return;
    const e = r as RecordOf<'event.published'>;
    const cache = this.#hostedQueues.get(e.queue);
    if (!cache) return;
    if (cache.size >= EVENT_CACHE || ++this.#cachedSincePrune >= PRUNE_EVERY) {
      this.#cachedSincePrune = 0;
      this.#prune(e.queue, cache);
      if (cache.size >= EVENT_CACHE) return;
    }
    cache.set(e.position, e);
  }

  #cachedSincePrune = 0;

  /** Drops cached events below every hosted subscriber's finishedBelow (handled everywhere). */
  #prune(queue: string, cache: Map<Position, RecordOf<'event.published'>>): void {
    let low = Infinity;
    const q = this.runtime.dispatch.queues.get(queue);
    for (const d of this.dispatchers) {
      if (d.queue !== queue) continue;
      const sub = this.runtime.dispatch.subscribers.get(d.subscriberId);
      low = Math.min(low, q?.positions[sub?.finishedBelow ?? 0] ?? Infinity);
    }
    for (const p of cache.keys()) {
      if (p >= low) break;
      cache.delete(p);
    }
  }
}

/** Events of hosted queues cached as they are published, per queue (a read-ahead may add more). */
const EVENT_CACHE = 32_768;
/** Events cached between two prunings of the handled ones. */
const PRUNE_EVERY = 1024;
/** Records read at once when dispatch misses the cache. */
const READ_AHEAD = 4096;

function positive(name: string, value: number, min = 1): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be a number ≥ ${min}, got: ${JSON.stringify(value)}`);
  }
  return value;
}

export type { Observable };
