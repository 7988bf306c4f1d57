import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { filter, Observable } from 'rxjs';
import { eventCount } from '../projections/dispatch/index.js';
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
  RECORD_TYPES,
  type RecordOf,
  type RecordType,
  type Delivery,
  type StoredRecord,
} from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import { checkHooks, HookSet, type Hooks } from './hooks.js';
import { checkName } from './names.js';
import { installSignalHandlers } from './signals.js';
import { LiveViews } from './live-views.js';
import { Queue, type QueueContext, type QueueOptions } from './queue.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';
import { RuntimeWorker } from './worker.js';
import { scheduleSnapshots } from './snapshot-schedule.js';
import { SnapshotWriter, type SnapshotTakenInfo } from './snapshot-writer.js';
import { unknownKeys } from './subscribe-options.js';

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
  /** Position of the snapshot the fold started from; -1 when it folded the log from position 0. */
  readonly startedFrom: Position;
  readonly subscribers: readonly SubscriberRow[];
  readonly claims: readonly ClaimRow[];
  readonly workers: readonly WorkerRow[];
  readonly stats: readonly StatsRow[];
  readonly reservations: readonly ReservationRow[];
  /** The subscriptions this manager hosts, with their resolved options. */
  readonly hosted: readonly HostedRow[];
}

/** One queue of the log, as {@link QueueManager.queues} lists it. */
export interface QueueSummary {
  readonly name: string;
  /** Events published to it. */
  readonly events: number;
  /** Subscribers registered and not deleted. */
  readonly subscribers: number;
  /** Schedules kept in the log for it. */
  readonly schedules: number;
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
  /** Hooks of this subscription (the manager's included) that threw, in this process. */
  readonly hookErrors: number;
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
  /**
   * While the manager hosts a subscriber of a queue it fires that queue's schedules (`queue.schedule`);
   * `false` opts this manager out, an object tunes it. Default on.
   */
  readonly scheduler?: boolean | SchedulerOptions;
  /** Lifecycle hooks run for every subscription this manager hosts (see {@link Hooks}). */
  readonly hooks?: Hooks;
  /**
   * A snapshot of the folds is written every this many records (since the last `snapshot.taken`) by
   * one worker, the oldest live one, when the store keeps snapshots; `0` never by count. Default 100000.
   */
  readonly snapshotEvery?: number;
  /** Also write one when this much log time (ms) passed since the last one; default off (`0`). */
  readonly snapshotIntervalMs?: number;
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
  'scheduler',
  'store',
  'hooks',
  'snapshotEvery',
  'snapshotIntervalMs',
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
    await HookSet.of(options.hooks)?.run('onStart', { workerId: manager.workerId });
    if (options.fold === 'eager') await manager.ready();
  } catch (e) {
    await manager.close().catch(() => undefined); // uninstalls signal handlers, closes an owned store
    throw e;
  }
  return manager;
}

/**
 * Runs `hooks.onShutdown` when `manager` closes, once its subscriptions stopped, after its own hooks
 * (internal: not exported from the package).
 */
export let addShutdownHooks: (manager: QueueManager, hooks: Hooks) => void;

/**
 * The entry point to one log's queues: the store, the live views and this process's worker. Its dispatch
 * machinery is private (runtime/worker.ts); what users read of it is {@link inspect}.
 */
export class QueueManager {
  readonly #worker: RuntimeWorker;
  readonly #context: QueueContext;
  readonly #queues = new Map<string, Queue>();
  /** close() was called (the manager drains, then closes). */
  #closed = false;
  /** Drained and closed: nothing more can be published. */
  #shut = false;
  #closing: Promise<void> | undefined;
  #uninstall: () => void = () => undefined;
  readonly #scheduler: Scheduler | undefined;
  /** Hooks whose `onShutdown` runs after the manager's own (those of workers started on it: worker-definition.ts). */
  readonly #added: Hooks[] = [];
  readonly #snapshots: SnapshotWriter;

  static {
    addShutdownHooks = (manager, hooks) => void manager.#added.push(hooks);
  }

  constructor(
    readonly store: LogStore,
    private readonly options: ManagerOptions,
  ) {
    const workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const settings = {
      leaseMs: positive('leaseMs', options.leaseMs ?? 30_000),
      heartbeatMs: positive('heartbeatMs', options.heartbeatMs ?? 2000),
      spreadGraceMs: positive('spreadGraceMs', options.spreadGraceMs ?? 500, 0),
      shutdownTimeout: positive('shutdownTimeout', options.shutdownTimeout ?? 10_000, 0),
    };
    const views = new LiveViews(store, (e) => void this.#halt(e));
    this.#worker = new RuntimeWorker(
      workerId,
      store,
      views,
      settings,
      (queue, payload, o) => this.queue(queue).publish(payload, o),
      checkHooks(options.hooks, 'manager'),
    );
    this.#context = { manager: this, worker: this.#worker };
    this.#snapshots = new SnapshotWriter(store, views);
    scheduleSnapshots(this.#worker, this.#snapshots, {
      every: positive('snapshotEvery', options.snapshotEvery ?? 100_000, 0),
      intervalMs: positive('snapshotIntervalMs', options.snapshotIntervalMs ?? 0, 0),
    });
    this.#scheduler =
      options.scheduler === false ? undefined : startScheduler(this.#worker, options.scheduler);
    if (options.handleSignals !== false) this.#uninstall = installSignalHandlers(() => this.close());
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** This process's worker id. */
  get workerId(): string {
    return this.#worker.workerId;
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
      q = new Queue<T>(this.#context, name, options);
      this.#queues.set(name, q);
    }
    return q;
  }

  /**
   * Settles once every subscription this manager hosts now has ended (see `Subscription.done`):
   * resolves when each drained an end order or was stopped, rejects on an interrupt.
   */
  drained(): Promise<void> {
    return Promise.all([...this.#worker.dispatchers].map((d) => d.done())).then(() => undefined);
  }

  /**
   * The queues of the log (every queue anything was published to or subscribed on), by name, with their
   * counts: events published, subscribers (not deleted), schedules (not ended or deleted). Waits until
   * the fold has every record appended before the call.
   */
  async queues(): Promise<QueueSummary[]> {
    const head = await this.store.head();
    if (head > 0) await this.#worker.views.waitFor(head - 1);
    const { dispatch, schedules } = this.#worker.views;
    const names = new Set<string>(dispatch.queues.keys());
    for (const s of dispatch.subscribers.values()) names.add(s.reg.queue);
    return [...names].sort().map((name) => ({
      name,
      events: eventCount(dispatch.queues.get(name)),
      subscribers: [...dispatch.subscribers.values()].filter((s) => s.reg.queue === name && !s.deleted)
        .length,
      schedules: [...schedules.schedules.values()].filter((s) => s.queue === name).length,
    }));
  }

  /**
   * Starts following the log if it had not, and resolves once the fold has caught up with the head as it
   * was then: {@link inspect} shows every record appended before.
   */
  ready(): Promise<void> {
    return this.#worker.views.start();
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
    const rt = this.#worker.views;
    return {
      position: rt.position,
      time: rt.time,
      following: rt.following,
      ready: rt.following && rt.ready,
      workerId: this.workerId,
      startedFrom: rt.restoredFrom,
      subscribers: subscriberRows(rt, queues),
      claims: claimRows(rt, queues),
      workers: workerRows(rt, queues),
      stats: statsRows(rt, queues),
      reservations: reservationRows(rt, queues),
      hosted: [...this.#worker.dispatchers]
        .filter((d) => queues.length === 0 || queues.includes(d.queue))
        .map((d) => ({
          queue: d.queue,
          subscriber: d.options.name,
          delivery: d.options.delivery,
          concurrency: d.options.concurrency,
          prefetch: d.options.prefetch,
          timeout: d.options.timeout,
          stopped: d.stopped,
          hookErrors: d.spec.hooks?.errors ?? 0,
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
    const rt = this.#worker.views;
    if (rt.ready) return rt.records$.asObservable();
    return new Observable<StoredRecord>((subscriber) => {
      const inner = rt.records$.pipe(filter((r) => r.position >= rt.startHead)).subscribe(subscriber);
      rt.start().catch((e: unknown) => subscriber.error(e));
      return inner;
    });
  }

  /**
   * Writes a snapshot of the folds now (once they caught up with the head): the store keeps it and a
   * `snapshot.taken` record announces it; processes then start from it instead of position 0. Then, as
   * after the snapshots workers write by themselves (`snapshotEvery`), the store's retention policy (its
   * URL's `?retention=` / `?retentionBytes=`) removes what the snapshot covers (`compacted` says what)
   * and snapshots no start-up can use any more are deleted. At most one is written at a time (a call
   * meanwhile gets the same one); dispatch goes on while it is written.
   * @example const { position, ref, bytes } = await manager.snapshot();
   */
  snapshot(): Promise<SnapshotTakenInfo> {
    this.#check();
    return this.#snapshots.take();
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

  /**
   * Why this manager stopped following its log, once it did: `log-diverged` (the log was lost,
   * replaced or rolled back), `corrupt-record`, or the store gone. It then claims nothing more (its
   * subscribers stop) and `records$()` errors with it; the store refuses appends to a diverged log.
   * Close the manager and open a new one to go on with the log as it now is (`eventy worker` exits
   * non-zero, so that `eventy run` or another supervisor restarts it).
   */
  get failure(): Error | undefined {
    return this.#worker.views.failure;
  }

  /** The log cannot be followed: no more claims, no schedule fires; the in-flight work drains. */
  async #halt(error: Error): Promise<void> {
    this.#worker.report(error);
    await this.#scheduler?.stop();
    await this.#worker.stop();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#uninstall();
    await this.#scheduler?.stop();
    await this.#worker.stop();
    await HookSet.of(this.options.hooks, ...this.#added)?.run('onShutdown', { workerId: this.workerId });
    this.#shut = true; // handlers could publish follow-ups until here
    await this.#snapshots.idle();
    await this.#worker.views.stop();
    if (this.options.ownsStore !== false) await this.store.close();
  }

  #check(): void {
    if (this.#shut) throw new ClosedError('queue manager');
  }
}

/**
 * The manager's scheduler: it runs from the first dispatcher attached (the worker's `worker.joined`
 * folds), so a process that only publishes or queries fires nothing.
 */
function startScheduler(worker: RuntimeWorker, options: true | SchedulerOptions | undefined): Scheduler {
  const views = worker.views;
  const scheduler = new Scheduler(
    {
      workerId: worker.workerId,
      schedules: views.schedules,
      workers: views.workers,
      get ready() {
        return views.ready;
      },
      hostedQueues: () => new Set([...worker.dispatchers].filter((d) => !d.stopped).map((d) => d.queue)),
      append: (drafts) => worker.store.append(drafts),
      report: (e) => worker.report(e),
    },
    options === true ? {} : options,
  );
  views.ticks$.subscribe(() => {
    if (!scheduler.running && worker.dispatchers.size > 0) scheduler.start();
  });
  return scheduler;
}

function positive(name: string, value: number, min = 1): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be a number ≥ ${min}, got: ${JSON.stringify(value)}`);
  }
  return value;
}

export type { Observable };
