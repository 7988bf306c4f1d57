/**
 * Events the log may no longer hold: the open events of the snapshot a process started from, whose
 * records retention may have removed from the log (they exist nowhere else). Lookups by position
 * ({@link readPositions}, the served events, the query index) take them from here, and read the rest of
 * the log from its first retained position: a record retention removed is simply not found.
 * @module
 */
import { isEventyError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { RecordOf, StoredRecord } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import { decodeSnapshot } from '../projections/snapshot-codec.js';

type EventRecord = RecordOf<'event.published'>;

// By store object: every manager on a store holds the same records (the log's), so they may share them.
const held = new WeakMap<LogStore, Map<Position, EventRecord>>();

/** The events held for `store` (filled when a process starts from a snapshot), by position. */
export function heldEvents(store: LogStore): Map<Position, EventRecord> {
  let map = held.get(store);
  if (!map) {
    map = new Map();
    held.set(store, map);
  }
  return map;
}

const loadedRef = new WeakMap<LogStore, string>();

/**
 * Holds the open events of the store's newest snapshot, when not done for it yet: for a process that
 * started before retention removed events it now needs (a retry below the first retained position).
 * Returns true when it held new ones.
 */
export async function holdFromNewestSnapshot(store: LogStore): Promise<boolean> {
  const [newest] = (await store.listSnapshots?.()) ?? [];
  if (!newest || !store.getSnapshot || loadedRef.get(store) === newest.ref) return false;
  loadedRef.set(store, newest.ref);
  const held = heldEvents(store);
  for (const e of decodeSnapshot(await store.getSnapshot(newest.ref), newest.ref).events)
    held.set(e.position, e);
  return true;
}

/**
 * {@link LogStore.read}, from the first retained position when retention removed the start of the range
 * (also while reading: a compaction that removes the segment being read moves the read on).
 */
export async function* readRetained(
  store: LogStore,
  options: { from?: Position; to?: Position } = {},
): AsyncIterable<StoredRecord> {
  let from = options.from ?? 0;
  for (;;) {
    try {
      for await (const r of store.read({ from, ...(options.to === undefined ? {} : { to: options.to }) })) {
        from = r.position + 1;
        yield r;
      }
      return;
    } catch (e) {
      if (!isEventyError(e, 'truncated') || e.first <= from) throw e;
      if (options.to !== undefined && e.first >= options.to) return;
      from = e.first;
    }
  }
}
