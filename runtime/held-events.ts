/**
 * Events the log may no longer hold: the open events of the snapshot a process started from, whose
 * records retention may have removed from the log (they exist nowhere else). Each process's
 * `LiveViews` keeps them ({@link HeldEvents}); lookups by position (`readPositions`, the served
 * events, the query index) are given them, take them from there, and read the rest of the log from its
 * first retained position: a record retention removed is simply not found.
 * @module
 */
import { isEventyError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { RecordOf, StoredRecord } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import { decodeSnapshot } from '../projections/snapshot-codec.js';

type EventRecord = RecordOf<'event.published'>;

/**
 * The events one process holds, by position: filled from the snapshot its fold started from, from each
 * snapshot it writes, and on a miss from the store's newest snapshot; emptied of those no longer needed
 * after a compaction. One per `LiveViews`, which owns it.
 */
export class HeldEvents extends Map<Position, EventRecord> {
  /** The snapshot whose events {@link holdFromNewestSnapshot} last held. */
  #loadedRef: string | undefined;

  /**
   * Holds the open events of the store's newest snapshot, when not done for it yet: for a process that
   * started before retention removed events it now needs (a retry below the first retained position).
   * Returns true when it held new ones.
   */
  async holdFromNewestSnapshot(store: LogStore): Promise<boolean> {
    const [newest] = await store.listSnapshots();
    if (!newest || this.#loadedRef === newest.ref) return false;
    this.#loadedRef = newest.ref;
    for (const e of decodeSnapshot(await store.getSnapshot(newest.ref), newest.ref).events)
      this.set(e.position, e);
    return true;
  }
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
