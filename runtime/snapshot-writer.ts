import { NotFoundError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { RecordOf } from '../engine/records.js';
import type { CompactResult, LogStore } from '../engine/storage.js';
import { openEventPositions } from '../projections/snapshot.js';
import { encodeSnapshot, encodeStates } from '../projections/snapshot-codec.js';
import type { LiveViews } from './live-views.js';
import { readPositions } from './query-index.js';

/** What {@link SnapshotWriter.take} wrote. */
export interface SnapshotTakenInfo {
  /** Position of the last record folded into it. */
  readonly position: Position;
  /** The store's name for it. */
  readonly ref: string;
  readonly bytes: number;
  /** Open events it carries. */
  readonly events: number;
  /** crc32c of its body. */
  readonly checksum: number;
  /** Position of its `snapshot.taken` record. */
  readonly recordPosition: Position;
  /** Wall-clock time taking it took (ms), the retention step after it excluded. */
  readonly ms: number;
  /**
   * What the store's retention policy removed right after it (see {@link afterSnapshot}); absent when
   * the store has no policy.
   */
  readonly compacted?: CompactResult;
}

/**
 * Writes snapshots of a process's folds, one at a time: a second call while one is being written gets
 * the same promise. The states are copied at once (CBOR, synchronously, at the fold's position), so
 * dispatch goes on meanwhile; the open events' records are then read (from the held events or the log),
 * the snapshot stored, `snapshot.taken` appended, and the store's retention applied ({@link afterSnapshot}).
 * Every snapshot goes through here (the oldest live worker's, `manager.snapshot()`, `eventy snapshot`),
 * so each is followed by the same retention step.
 */
export class SnapshotWriter {
  #running: Promise<SnapshotTakenInfo> | undefined;

  constructor(
    private readonly store: LogStore,
    private readonly views: LiveViews,
  ) {}

  /** True while a snapshot is being written. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Resolves once no snapshot is being written (whether the last one failed or not). */
  async idle(): Promise<void> {
    await this.#running?.catch(() => undefined);
  }

  /**
   * Writes a snapshot of the folds as they are once they caught up with the head, then lets the store
   * apply its retention policy ({@link afterSnapshot}).
   */
  take(): Promise<SnapshotTakenInfo> {
    this.#running ??= this.#take().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #take(): Promise<SnapshotTakenInfo> {
    const started = performance.now();
    await this.views.start();
    const head = await this.store.head();
    if (head > 0) await this.views.waitFor(head - 1);
    // The copy: everything after this line may run while the fold moves on.
    const { position, time } = this.views;
    const states = encodeStates(this.views.states);
    const open = openEventPositions(this.views.dispatch);
    const events = await this.#events(open);
    const { bytes, checksum, formatVersion } = encodeSnapshot({ position, time, states, events });
    const info = await this.store.putSnapshot(position, bytes);
    // Held here from now on: retention may remove them from the log once the snapshot covers them.
    for (const e of events) this.views.held.set(e.position, e);
    const draft = {
      type: 'snapshot.taken' as const,
      snapshotPosition: position,
      ref: info.ref,
      checksum,
      formatVersion,
      bytes: bytes.length,
    };
    const { positions } = await this.store.append([draft]);
    const ms = performance.now() - started;
    const compacted = await afterSnapshot(this.store, this.views, position);
    return {
      position,
      ref: info.ref,
      bytes: bytes.length,
      events: events.length,
      checksum,
      recordPosition: positions[0] as Position,
      ms,
      ...(compacted !== undefined && { compacted }),
    };
  }

  /** The open events' records; each must be found (a snapshot without one would lose it). */
  async #events(open: readonly Position[]): Promise<RecordOf<'event.published'>[]> {
    const records = await readPositions(this.store, this.views.held, open);
    return open.map((p) => {
      const r = records.get(p);
      if (r?.type !== 'event.published') throw new NotFoundError('open event at position', String(p));
      return r as RecordOf<'event.published'>;
    });
  }
}

/**
 * After a snapshot at `position`: lets the store apply its retention policy (nothing at or after
 * `position + 1` goes), then deletes the snapshots older than the newest two that lie before the first
 * retained position (no start-up can use them: the records after them are gone), and lets go of the held
 * events no longer needed.
 * @returns what the compaction removed; undefined when the store has no retention policy.
 */
export async function afterSnapshot(
  store: LogStore,
  views: LiveViews,
  position: Position,
): Promise<CompactResult | undefined> {
  const compacted =
    store.retention === undefined ? undefined : await store.compact({ keepFrom: position + 1 });
  const first = await store.first();
  const old = (await store.listSnapshots()).slice(2).filter((s) => s.position + 1 < first);
  for (const s of old) await store.deleteSnapshot(s.ref);
  // Held events retention removed and every subscriber finished are needed no more.
  const { held } = views;
  if (held.size > 0) {
    const stillOpen = new Set(openEventPositions(views.dispatch));
    for (const p of held.keys()) if (p >= first || !stillOpen.has(p)) held.delete(p);
  }
  return compacted;
}
