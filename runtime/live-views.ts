import { Subject } from 'rxjs';
import { dispatchFold, type DispatchState } from '../projections/dispatch/index.js';
import { schedulesFold, type SchedulesState } from '../projections/schedules.js';
import { statsFold, type StatsState } from '../projections/stats.js';
import { workersFold, type WorkersState } from '../projections/workers.js';
import { ClosedError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { StoredRecord } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import type { FoldStates, Snapshot } from '../projections/snapshot.js';
import { HeldEvents } from './held-events.js';
import { startingSnapshot } from './snapshot-start.js';

/**
 * Follows one log and folds every record into the views that drive dispatch: from the newest usable
 * snapshot the store keeps (its states, and its open events held for lookups), else from position 0.
 * Everyone in the process reads the same states; they change only here, in log order. It starts with the first
 * {@link start} or {@link waitFor}: a process that only publishes never reads the log.
 */
export class LiveViews {
  readonly dispatch: DispatchState = dispatchFold.initial();
  readonly workers: WorkersState = workersFold.initial();
  readonly stats: StatsState = statsFold.initial();
  readonly schedules: SchedulesState = schedulesFold.initial();
  /** Every record as it is folded. */
  readonly records$ = new Subject<StoredRecord>();
  /** Emits after each run of folded records (coalesced): dispatchers and views react to it. */
  readonly ticks$ = new Subject<void>();
  /** Extra per-record hooks (the query index, payload caches). */
  readonly taps = new Set<(r: StoredRecord) => void>();
  /**
   * The open events of the snapshot the fold started from (and of those written since), which retention
   * may remove from the log: lookups by position are given them (`readPositions`).
   */
  readonly held = new HeldEvents();
  #position: Position = -1;
  #waiters: { position: Position; resolve: () => void; reject: (e: Error) => void }[] = [];
  #tickScheduled = false;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #startHead = Infinity;
  #readingHead: Promise<unknown> | undefined;
  #failure: Error | undefined;
  #restoredFrom: Position = -1;
  #sinceSnapshot = 0;
  #snapshotTime = 0;

  constructor(
    private readonly store: LogStore,
    /** Told once when the log can no longer be followed (diverged, corrupt, the store gone). */
    private readonly onFailure: (error: Error) => void = () => undefined,
  ) {}

  /** Why the log can no longer be followed, once it cannot. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Position of the last record folded (-1 before the first). */
  /** Log time of the last record folded (ms since the epoch); 0 before the first. */
  get time(): number {
    return this.dispatch.time;
  }

  get position(): Position {
    return this.#position;
  }

  /** True once following started. */
  get following(): boolean {
    return this.#started !== undefined;
  }

  /** True once the fold caught up with the head as it was when following started. */
  get ready(): boolean {
    return this.#position >= this.#startHead - 1;
  }

  /**
   * Starts following (the first call; later calls return the same promise); resolves once the fold has
   * caught up with the head as it was at the first call.
   */
  start(): Promise<void> {
    this.#started ??= this.#begin();
    return this.#started;
  }

  /** The head when following started (Infinity before): the first record that was new then. */
  get startHead(): Position {
    return this.#startHead;
  }

  /**
   * While following starts, until the head it starts at is read: settles then (also on failure).
   * Undefined otherwise.
   */
  get readingStartHead(): Promise<unknown> | undefined {
    return this.#readingHead;
  }

  async #begin(): Promise<void> {
    let head: Position;
    try {
      const read = this.store.head();
      this.#readingHead = read.then(
        () => (this.#readingHead = undefined),
        () => (this.#readingHead = undefined),
      );
      head = await read;
    } catch (e) {
      this.#started = undefined; // the next call tries again
      this.#failAll(e instanceof Error ? e : new Error(String(e))); // those waiting meanwhile
      throw e;
    }
    let from: Position;
    try {
      from = this.#restore(await startingSnapshot(this.store, head));
    } catch (e) {
      this.#started = undefined;
      this.#failAll(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
    if (this.#stop.signal.aborted) throw new ClosedError('queue manager');
    this.#startHead = head;
    this.#loop = this.#run(from);
    if (head > 0) await this.waitFor(head - 1);
  }

  /** Resolves once every record up to `position` is folded (following starts if it had not). */
  waitFor(position: Position, signal?: AbortSignal): Promise<void> {
    if (position <= this.#position) return Promise.resolve();
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#started === undefined) return this.start().then(() => this.waitFor(position, signal));
    return new Promise((resolve, reject) => {
      const waiter = { position, resolve, reject };
      this.#waiters.push(waiter);
      signal?.addEventListener('abort', () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal.reason as Error);
      });
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    this.#failAll(new ClosedError('queue manager'));
    // Views see the last records folded before their streams complete.
    if (this.#tickScheduled) this.ticks$.next();
    this.records$.complete();
    this.ticks$.complete();
  }

  /** Takes the snapshot's states (into the same state objects) and events; the position to follow from. */
  #restore(snapshot: Snapshot | undefined): Position {
    if (!snapshot) return 0;
    Object.assign(this.dispatch, snapshot.states.dispatch);
    Object.assign(this.workers, snapshot.states.workers);
    Object.assign(this.stats, snapshot.states.stats);
    Object.assign(this.schedules, snapshot.states.schedules);
    for (const e of snapshot.events) this.held.set(e.position, e);
    this.#position = snapshot.position;
    this.#restoredFrom = snapshot.position;
    this.#snapshotTime = snapshot.time;
    return snapshot.position + 1;
  }

  /** The four states, as a snapshot takes them. */
  get states(): FoldStates {
    return { dispatch: this.dispatch, workers: this.workers, stats: this.stats, schedules: this.schedules };
  }

  /** Position of the snapshot the fold started from (-1: it started at 0). */
  get restoredFrom(): Position {
    return this.#restoredFrom;
  }

  /** Records folded since the last `snapshot.taken` (or the snapshot the fold started from). */
  get sinceSnapshot(): number {
    return this.#sinceSnapshot;
  }

  /** Log time of the last `snapshot.taken` (or of the snapshot the fold started from); 0: none. */
  get snapshotTime(): number {
    return this.#snapshotTime;
  }

  async #run(from: Position): Promise<void> {
    try {
      for await (const chunk of this.store.followChunks({ from, signal: this.#stop.signal })) {
        for (const r of chunk) this.#fold(r);
      }
    } catch (e) {
      this.#failure = e instanceof Error ? e : new Error(String(e));
      this.#failAll(this.#failure);
      this.onFailure(this.#failure);
      this.records$.error(e);
    }
  }

  #fold(r: StoredRecord): void {
    dispatchFold.evolve(this.dispatch, r);
    workersFold.evolve(this.workers, r);
    statsFold.evolve(this.stats, r);
    schedulesFold.evolve(this.schedules, r);
    this.#position = r.position;
    if (r.type === 'snapshot.taken') {
      this.#sinceSnapshot = 0;
      this.#snapshotTime = r.time;
    } else this.#sinceSnapshot++;
    for (const tap of this.taps) tap(r);
    if (this.records$.observed) this.records$.next(r); // rxjs' next costs, even with nobody listening
    if (this.#waiters.length > 0) this.#wake();
    if (!this.#tickScheduled) {
      this.#tickScheduled = true;
      setImmediate(() => {
        this.#tickScheduled = false;
        this.ticks$.next();
      });
    }
  }

  /** The log can no longer be followed (corruption, store gone, closed): nobody waits forever. */
  #failAll(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
  }

  #wake(): void {
    const ready = this.#waiters.filter((w) => w.position <= this.#position);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.position > this.#position);
    for (const w of ready) w.resolve();
  }
}
