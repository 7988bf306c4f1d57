import { oldestOpen } from '../projections/dispatch/index.js';
import type { Position } from '../engine/position.js';
import type { RecordDraft, RecordOf } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import type { DispatchContext } from './dispatch/context.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import { workerDraft, type WorkerRecordType } from './dispatch/drafts.js';
import type { LiveViews } from './live-views.js';
import { QueryIndex } from './query-index.js';
import { ServedEvents } from './served-events.js';
import type { Hooks } from './hooks.js';
import type { PublishOptions, QueueEvent } from './types.js';

/** The worker's timings, checked by the manager. */
export interface WorkerSettings {
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly spreadGraceMs: number;
  readonly shutdownTimeout: number;
}

/** The most recent dispatch errors kept (reported, not thrown: leases run out, other workers take over). */
const ERRORS_KEPT = 100;

/**
 * This process's worker, private to the runtime (not exported from the package): what dispatchers and
 * queues need and users do not — appends, the served queues' events, heartbeats and keepalive (lease
 * extensions, reservation renewals riding the heartbeat), attaching and detaching dispatchers, reported errors. Dispatchers
 * see it only as a {@link DispatchContext}; queues and queries reach the store, the views and the query
 * index through it, not through public members of the manager.
 *
 * Lifecycle: no dispatcher attached (no records written) → the first attach appends `worker.joined` and
 * starts the keepalive → each attach/detach a heartbeat → {@link stop}: every dispatcher stopped, then
 * `worker.left` (only if it joined).
 */
export class RuntimeWorker implements DispatchContext {
  readonly index: QueryIndex;
  readonly #settings: WorkerSettings;
  readonly #dispatchers = new Set<Dispatcher>();
  readonly #events: ServedEvents;
  readonly #errors: unknown[] = [];
  #keepalive: NodeJS.Timeout | undefined;
  #joined = false;

  constructor(
    readonly workerId: string,
    readonly store: LogStore,
    readonly views: LiveViews,
    settings: WorkerSettings,
    private readonly publishTo: (
      queue: string,
      payload: unknown,
      options: PublishOptions,
    ) => Promise<QueueEvent>,
    /** The manager's hooks, run for every subscription it hosts. */
    readonly hooks?: Hooks,
  ) {
    this.#settings = settings;
    this.index = new QueryIndex(store, views);
    this.#events = new ServedEvents(store, views.held, (queue) => this.#handledBelow(queue));
    views.ticks$.subscribe(() => {
      for (const d of this.#dispatchers) d.tick();
    });
    views.taps.add((r) => this.#events.add(r));
  }

  get leaseMs(): number {
    return this.#settings.leaseMs;
  }
  get heartbeatMs(): number {
    return this.#settings.heartbeatMs;
  }
  get spreadGraceMs(): number {
    return this.#settings.spreadGraceMs;
  }
  get shutdownTimeout(): number {
    return this.#settings.shutdownTimeout;
  }
  /** How long this worker counts as alive after a heartbeat (`ttlMs`); its reservations live as long. */
  get livenessMs(): number {
    return this.#settings.heartbeatMs * 3;
  }

  /** The dispatchers attached, in attach order. */
  get dispatchers(): ReadonlySet<Dispatcher> {
    return this.#dispatchers;
  }

  /** Errors reported by dispatch (the latest {@link ERRORS_KEPT}). */
  get errors(): readonly unknown[] {
    return this.#errors;
  }

  async append(drafts: RecordDraft[], sync: boolean): Promise<{ positions: readonly Position[] }> {
    return this.store.append(drafts, { sync });
  }

  events(queue: string, positions: readonly Position[]): Promise<Map<Position, RecordOf<'event.published'>>> {
    return this.#events.read(queue, positions);
  }

  cachedEvent(queue: string, position: Position): RecordOf<'event.published'> | undefined {
    return this.#events.cached(queue, position);
  }

  publish(queue: string, payload: unknown, options: PublishOptions): Promise<QueueEvent> {
    return this.publishTo(queue, payload, options);
  }

  report(error: unknown): void {
    this.#errors.push(error);
    if (this.#errors.length > ERRORS_KEPT) this.#errors.shift();
    if (process.env.EVENTY_DEBUG) console.error('[eventy]', error);
  }

  /** Starts a dispatcher: caches its queue's events for dispatch and announces the worker. */
  async attach(dispatcher: Dispatcher): Promise<void> {
    this.#events.open(dispatcher.queue);
    if ([...this.#dispatchers].some((d) => d.subscriberId === dispatcher.subscriberId))
      dispatcher.shareSubscriber();
    this.#dispatchers.add(dispatcher);
    await this.#beat(this.#joined ? 'worker.heartbeat' : 'worker.joined');
    this.#joined = true;
    this.#keepalive ??= setInterval(
      () => void this.#keepAlive(),
      Math.min(this.#settings.heartbeatMs, this.#settings.leaseMs / 3),
    );
    dispatcher.tick();
  }

  /** Stops a dispatcher (draining up to `shutdownTimeout`) and announces the worker without it. */
  async detach(dispatcher: Dispatcher): Promise<void> {
    await dispatcher.stop(this.#settings.shutdownTimeout);
    this.#dispatchers.delete(dispatcher);
    if (![...this.#dispatchers].some((d) => d.queue === dispatcher.queue))
      this.#events.close(dispatcher.queue);
    await this.#beat('worker.heartbeat');
  }

  /** Stops every dispatcher (draining up to `shutdownTimeout`) and appends `worker.left` if it joined. */
  async stop(): Promise<void> {
    await Promise.all([...this.#dispatchers].map((d) => d.stop(this.#settings.shutdownTimeout)));
    if (this.#keepalive) clearInterval(this.#keepalive);
    try {
      if (this.#joined) {
        this.#joined = false; // once: a halted manager (log gone) is stopped again by close()
        await this.#beat('worker.left');
      }
    } catch (e) {
      this.report(e);
    }
  }

  /**
   * The heartbeat, renewing the reservations of the dispatchers that keep theirs (one record, however
   * many subscribers: an idle worker appends nothing else), with their lease extensions.
   */
  async #keepAlive(): Promise<void> {
    const drafts: RecordDraft[] = [];
    const renews: string[] = [];
    for (const d of this.#dispatchers) d.keepAlive(drafts, renews);
    drafts.unshift(this.#workerDraft('worker.heartbeat', renews));
    try {
      await this.store.append(drafts, { sync: false });
    } catch (e) {
      this.report(e);
    }
  }

  async #beat(type: WorkerRecordType): Promise<void> {
    await this.store.append([this.#workerDraft(type)], { sync: type === 'worker.left' });
  }

  #workerDraft(type: WorkerRecordType, renews?: readonly string[]): RecordDraft {
    const all = [...this.#dispatchers];
    const subscribers = [...new Set(all.filter((d) => !d.stopped).map((d) => d.subscriberId))];
    const queues = [...new Set(all.map((d) => d.queue))];
    return workerDraft(type, this.workerId, queues, subscribers, this.livenessMs, renews);
  }

  /** Position below which every subscriber attached here for `queue` has handled all events. */
  #handledBelow(queue: string): Position {
    let low = Infinity;
    const q = this.views.dispatch.queues.get(queue);
    for (const d of this.#dispatchers) {
      if (d.queue !== queue) continue;
      const sub = this.views.dispatch.subscribers.get(d.subscriberId);
      low = Math.min(low, (sub && oldestOpen(sub, q)) ?? Infinity);
    }
    return low;
  }
}
