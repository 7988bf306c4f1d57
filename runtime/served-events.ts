import type { Position } from '../engine/position.js';
import { isKnownRecord, type RecordOf, type StoredRecord } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import { readRetained, type HeldEvents } from './held-events.js';
import { readPositions } from './query-index.js';

type EventRecord = RecordOf<'event.published'>;

/** Events of served queues cached as they are published, per queue (a read-ahead may add more). */
const EVENT_CACHE = 32_768;
/** Events cached between two prunings of the handled ones. */
const PRUNE_EVERY = 1024;
/** Records read at once when dispatch misses the cache. */
const READ_AHEAD = 4096;

/**
 * The events of the queues this worker serves that are not yet handled, so dispatch needs no read.
 * A queue is cached from {@link open} to {@link close}. Handled events are dropped as new ones come
 * (every {@link PRUNE_EVERY}), not only once the cache is full: a full cache of handled events is
 * megabytes of old space, which V8 lets grow to several times that before collecting. Bounded: full of
 * unhandled events (a deep backlog), newer events are not cached and dispatch reads them from the log
 * in ranges when their turn comes.
 */
export class ServedEvents {
  readonly #byQueue = new Map<string, Map<Position, EventRecord>>();
  #sincePrune = 0;

  constructor(
    private readonly store: LogStore,
    /** The process's held events (its views'), looked at before the log. */
    private readonly held: HeldEvents,
    /** Position below which every event of the queue is handled by all its subscribers here. */
    private readonly handledBelow: (queue: string) => Position,
  ) {}

  open(queue: string): void {
    if (!this.#byQueue.has(queue)) this.#byQueue.set(queue, new Map());
  }

  close(queue: string): void {
    this.#byQueue.delete(queue);
  }

  /** A served queue's event, if cached: no read. */
  cached(queue: string, position: Position): EventRecord | undefined {
    return this.#byQueue.get(queue)?.get(position);
  }

  /** Caches a folded record if it is an event of a served queue. */
  add(r: StoredRecord): void {
    if (r.type !== 'event.published') return;
    const e = r as EventRecord;
    const cache = this.#byQueue.get(e.queue);
    if (!cache) return;
    if (cache.size >= EVENT_CACHE || ++this.#sincePrune >= PRUNE_EVERY) {
      this.#sincePrune = 0;
      this.#prune(e.queue, cache);
      if (cache.size >= EVENT_CACHE) return;
    }
    cache.set(e.position, e);
  }

  /** The events at `positions`: from the cache, else read (ahead, for a served queue). */
  async read(queue: string, positions: readonly Position[]): Promise<Map<Position, EventRecord>> {
    const cache = this.#byQueue.get(queue);
    const out = new Map<Position, EventRecord>();
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
    for (const [p, r] of await readPositions(this.store, this.held, still)) {
      if (isKnownRecord(r) && r.type === 'event.published') out.set(p, r);
    }
    return out;
  }

  /**
   * A cache miss (a backlog deeper than the cache): read the log ahead from there once and cache the
   * queue's events, so the next dispatches find them, instead of one read per claim batch.
   */
  async #readAhead(queue: string, cache: Map<Position, EventRecord>, from: Position): Promise<void> {
    for await (const r of readRetained(this.store, { from, to: from + READ_AHEAD })) {
      if (r.type === 'event.published' && (r as EventRecord).queue === queue) {
        cache.set(r.position, r as EventRecord);
      }
    }
  }

  /** Drops the cached events every subscriber served here has handled. */
  #prune(queue: string, cache: Map<Position, EventRecord>): void {
    const low = this.handledBelow(queue);
    for (const p of cache.keys()) {
      if (p >= low) break;
      cache.delete(p);
    }
  }
}
