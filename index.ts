/**
 * Eventy: distributed task processing on an append-only, replayable log.
 * @packageDocumentation
 */
import { openStore, defaultStoreUrl, type OpenStoreOptions } from './adapters/open-store.js';
import { InvalidArgumentError } from './engine/errors.js';
import { createManager, type ManagerOptions, type QueueManager } from './runtime/index.js';
import type { LogStore } from './engine/storage.js';

export * from './engine/index.js';
export * from './runtime/index.js';
export {
  boundAt,
  deathOf,
  dispatchFold,
  isFinished,
  subscriberProgress,
  isLeased,
  type BoundClaim,
  type Death,
  type DispatchState,
  type ItemStatus,
  type QueueState,
  type SubscriberState,
  type WorkItem,
} from './projections/dispatch/index.js';
export {
  claimRows,
  workerRows,
  subscriberRows,
  statsRows,
  reservationRows,
  VIEWS,
  type ViewName,
  type ClaimRow,
  type WorkerRow,
  type SubscriberRow,
  type StatsRow,
  type ReservationRow,
} from './projections/view-rows.js';
export { InvariantChecker, type Violation } from './projections/invariants.js';
export { workersFold, isAlive, type WorkersState, type WorkerInfo } from './projections/workers.js';
export { statsFold, type StatsState, type QueueStats } from './projections/stats.js';
export {
  viewsFold,
  replayLog,
  positionAtTime,
  type LogViews,
  type ReplayOptions,
} from './projections/replay.js';
export { foldAll, type Fold } from './projections/fold.js';
export {
  foldStates,
  initialStates,
  openEventPositions,
  type FoldStates,
  type Snapshot,
} from './projections/snapshot.js';
export {
  decodeSnapshot,
  encodeSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  snapshotDifference,
  type EncodedSnapshot,
} from './projections/snapshot-codec.js';
export { liveRecords$, foldView } from './projections/live.js';
export { openStore, defaultStoreUrl };
export type { OpenStoreOptions };

/** Options of {@link createQueueManager}. */
export interface QueueManagerOptions extends ManagerOptions, OpenStoreOptions {
  /** A store URL (`file:.eventy` default, `memory:`, `file:<dir>`, `redis://…`) or an open store. */
  readonly store?: string | LogStore;
}

/**
 * Opens a log and returns its queue manager; it follows and folds the log once something needs it (see
 * `ManagerOptions.fold`).
 * @throws InvalidArgumentError for a bad store URL or option.
 * @example
 * await using manager = await createQueueManager({ store: 'file:.eventy' });
 * const orders = manager.queue<Order>('orders');
 * await orders.subscribe(async (event) => bill(event.payload), { name: 'bill' });
 * await orders.publish({ id: 7, total: 120 });
 */
export async function createQueueManager(options: QueueManagerOptions = {}): Promise<QueueManager> {
  if (typeof options !== 'object')
    throw new InvalidArgumentError('createQueueManager takes an options object');
  const { store = defaultStoreUrl(), durability, segmentBytes, ...rest } = options;
  const storeOptions = { ...(durability ? { durability } : {}), ...(segmentBytes ? { segmentBytes } : {}) };
  const opened = typeof store === 'string' ? await openStore(store, storeOptions) : store;
  try {
    return await createManager(opened, { ownsStore: typeof store === 'string', ...rest });
  } catch (e) {
    if (typeof store === 'string') await opened.close();
    throw e;
  }
}

let defaultManager: Promise<QueueManager> | undefined;
let opened: QueueManager | undefined;

/**
 * The process's shared manager on `EVENTY_STORE` (else `file:.eventy`), created on first call, and again
 * after it was closed or failed to open.
 */
export function getDefaultQueueManager(): Promise<QueueManager> {
  if (defaultManager === undefined || opened?.closed === true) {
    opened = undefined;
    const creating = createQueueManager().then(
      (m) => (opened = m),
      (e: unknown) => {
        if (defaultManager === creating) defaultManager = undefined;
        throw e;
      },
    );
    defaultManager = creating;
  }
  return defaultManager;
}
