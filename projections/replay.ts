import { throwIfAborted } from '../engine/errors.js';
import { checkPosition, type Position } from '../engine/position.js';
import type { StoredRecord } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import { dispatchFold, type DispatchState } from './dispatch/index.js';
import type { Fold } from './fold.js';
import { statsFold, type StatsState } from './stats.js';
import { workersFold, type WorkersState } from './workers.js';

/**
 * Every view the runtime folds, together: what a live manager had in memory once it had folded the log
 * up to {@link LogViews.position}. Built by {@link viewsFold} or {@link replayLog}.
 */
export interface LogViews {
  readonly dispatch: DispatchState;
  readonly workers: WorkersState;
  readonly stats: StatsState;
  /** Position of the last record folded; -1 before the first. */
  position: Position;
  /** Log time of the last record folded (ms since the epoch); 0 before the first. */
  time: number;
}

/**
 * The claims, workers and stats folds run side by side, exactly as the live runtime runs them.
 * @example const views = foldAll(viewsFold, records);
 */
export const viewsFold: Fold<LogViews> = {
  initial: () => ({
    dispatch: dispatchFold.initial(),
    workers: workersFold.initial(),
    stats: statsFold.initial(),
    position: -1,
    time: 0,
  }),
  evolve(state, record) {
    dispatchFold.evolve(state.dispatch, record);
    workersFold.evolve(state.workers, record);
    statsFold.evolve(state.stats, record);
    state.position = record.position;
    state.time = Math.max(state.time, record.time);
    return state;
  },
};

/** Options of {@link replayLog}. */
export interface ReplayOptions {
  /** Last position to fold, inclusive; default the last record at the time of the call. */
  readonly to?: Position;
  /**
   * Views to carry on folding (from their `position + 1`), e.g. to compare two points of history:
   * updated in place and returned. Default: fresh views, folded from the start of the log.
   */
  readonly into?: LogViews;
  /** Called with each record once it is folded, and the views after it. */
  readonly onRecord?: (record: StoredRecord, views: LogViews) => void;
  /** Called every `progressEvery` records with the last position folded and the target position. */
  readonly onProgress?: (position: Position, to: Position) => void;
  /** Records between two `onProgress` calls (at least; reads come in chunks); default 65,536. */
  readonly progressEvery?: number;
  /** Stops the replay: it rejects with an `aborted` error. */
  readonly signal?: AbortSignal;
}

/**
 * Rebuilds the views of a log as they were right after the record at `to` was appended (the CLI's
 * `eventy replay`). Folds are deterministic and read only log time, so the result is what every live
 * process had folded at that point.
 * @throws InvalidArgumentError when `to` is not a position.
 * @throws CorruptRecordError when a stored record fails its checks.
 * @throws AbortedError when `signal` aborts.
 * @example
 * const views = await replayLog(store, { to: 1200 });
 * console.log(views.dispatch.subscribers.get('orders/bill')?.counts);
 */
export async function replayLog(store: LogStore, options: ReplayOptions = {}): Promise<LogViews> {
  const views = options.into ?? viewsFold.initial();
  const to = options.to === undefined ? (await store.head()) - 1 : checkPosition('to', options.to);
  const every = options.progressEvery ?? 65_536;
  const { onRecord, onProgress, signal } = options;
  throwIfAborted(signal);
  if (to <= views.position) return views;
  let nextProgress = views.position + every;
  const range = { from: views.position + 1, to: to + 1, ...(signal ? { signal } : {}) };
  for await (const chunk of store.readChunks(range)) {
    for (const r of chunk) {
      viewsFold.evolve(views, r);
      onRecord?.(r, views);
    }
    if (views.position >= nextProgress) {
      nextProgress = views.position + every;
      onProgress?.(views.position, to);
    }
    throwIfAborted(signal);
  }
  throwIfAborted(signal);
  onProgress?.(views.position, to);
  return views;
}

/**
 * The first position whose log time is at or after `time` (log time never decreases, so this is a
 * binary search of single-record reads); the head when every record is older.
 * @example const from = await positionAtTime(store, Date.parse('2025-01-01T00:00:00Z'));
 */
export async function positionAtTime(store: LogStore, time: number): Promise<Position> {
  let lo = 0;
  let hi = await store.head();
  // The first position may be above 0 when older history was dropped: start from the first readable.
  const first = await recordAt(store, 0, hi);
  if (first === undefined) return hi;
  lo = first.position;
  if (first.time >= time) return lo;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const r = await recordAt(store, mid, hi);
    if (r === undefined || r.time >= time) hi = r === undefined ? mid : Math.min(hi, r.position);
    else lo = r.position + 1;
  }
  return lo;
}

async function recordAt(store: LogStore, from: Position, head: Position): Promise<StoredRecord | undefined> {
  for await (const r of store.read({ from, to: head })) return r;
  return undefined;
}
