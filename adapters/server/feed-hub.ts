import type { Subscription } from 'rxjs';
import { isKnownRecord, type KnownRecord, type Position, type QueueManager } from '../../index.js';
import { recordJson } from './json.js';

/** Which records a feed client wants. */
export interface FeedFilter {
  readonly queue?: string;
  readonly types?: ReadonlySet<string>;
  /** A subscriber id (`queue/name`): only records about it (claims, results, registration). */
  readonly subscriber?: string;
}

/**
 * Records to send, each serialised once. The live fan-out hands one batch to every client with the same
 * filter, so what a transport makes of it (a WebSocket message, SSE text) is made once through `memo`.
 */
export class FeedBatch {
  readonly #memo = new Map<string, unknown>();
  constructor(
    readonly records: readonly KnownRecord[],
    /** Where a client goes on after this batch. */
    readonly next: Position,
    /** A record's JSON (memoised by the caller across the batches of one fan-out). */
    readonly json: (r: KnownRecord) => string = recordJson,
  ) {}

  /** `make()` once per `key` for this batch. */
  memo<T>(key: string, make: () => T): T {
    if (!this.#memo.has(key)) this.#memo.set(key, make());
    return this.#memo.get(key) as T;
  }
}

/**
 * One client of the feed as the hub sees it: where it stands, and a sink that takes records already
 * serialised. `send` returns false when the client's buffer is past its bound.
 */
export interface FeedSink {
  /** The first position not yet sent to the client. */
  next: Position;
  readonly filter: FeedFilter;
  /** Sends a batch (positions ascending, every one at or after `next`). False: over its bound. */
  send(batch: FeedBatch): boolean;
  /** Told the client is dropped as too slow. */
  lagging(next: Position): void;
  /** Told the server is closing. */
  end(): void;
  /** Resolves once the client's buffer has room (catch-up waits for it; the live feed never does). */
  drained(): Promise<void>;
  readonly closed: boolean;
}

/** True when `r` passes `f`. */
export function matches(f: FeedFilter, r: KnownRecord): boolean {
  if (f.types && !f.types.has(r.type)) return false;
  if (f.queue !== undefined && (!('queue' in r) || r.queue !== f.queue)) return false;
  if (f.subscriber !== undefined && (!('subscriberId' in r) || r.subscriberId !== f.subscriber)) return false;
  return true;
}

/** Records read per catch-up step: small enough to check the client's buffer often. */
const CATCH_UP_CHUNK = 4096;

/**
 * The least time between two live fan-outs (ms): records arriving meanwhile go out together, so a
 * busy log costs each client a message every few ms rather than one per append.
 */
const FLUSH_GAP_MS = 5;

/** One string per distinct filter: clients with equal filters share the live batches. */
function filterKey(f: FeedFilter): string {
  return `${f.queue ?? ''}\u0000${f.subscriber ?? ''}\u0000${f.types ? [...f.types].sort().join(',') : '*'}`;
}

/**
 * The live feed's one reader: it takes the manager's record stream once and fans it out to every
 * client, serialising each record once. A client asking for a past position first catches up from the
 * store at its own pace, then joins the live fan-out in the same tick in which it read up to the hub's
 * last record — so between history and live nothing is missed and nothing sent twice. A live client
 * whose buffer passes its bound is told `lagging` and dropped: the hub never waits for a client.
 */
export class FeedHub {
  readonly #manager: QueueManager;
  readonly #live = new Set<FeedSink>();
  #received: Position = -1;
  #pending: KnownRecord[] = [];
  #flushScheduled = false;
  #lastFlush = 0;
  readonly #keys = new WeakMap<FeedFilter, string>();
  #subscription: Subscription | undefined;

  constructor(manager: QueueManager) {
    this.#manager = manager;
  }

  /** Starts reading: the manager's fold catches up first, the hub takes every record after it. */
  async start(): Promise<void> {
    await this.#manager.ready();
    this.#received = this.#manager.inspect().position;
    this.#subscription = this.#manager.records$().subscribe({
      next: (r) => this.#receive(r),
      error: () => this.close(),
    });
  }

  /** The last position the hub has taken from the log. */
  get position(): Position {
    return this.#received;
  }

  /** Streams to `sink` from `sink.next` on, history first, until it closes or is dropped. */
  async attach(sink: FeedSink): Promise<void> {
    const store = this.#manager.store;
    while (!sink.closed && sink.next <= this.#received) {
      const to = Math.min(this.#received + 1, sink.next + CATCH_UP_CHUNK);
      const batch: KnownRecord[] = [];
      let last = sink.next - 1;
      for await (const chunk of store.readChunks({ from: sink.next, to })) {
        for (const r of chunk) {
          last = r.position;
          if (isKnownRecord(r) && matches(sink.filter, r)) batch.push(r);
        }
      }
      // Nothing read: that stretch of history is gone (retention); go on after it.
      const next = last < sink.next ? to : last + 1;
      sink.send(new FeedBatch(batch, next));
      sink.next = next;
      await sink.drained();
    }
    // Same tick as the last check of #received: from here on the fan-out delivers.
    if (!sink.closed) this.#live.add(sink);
  }

  detach(sink: FeedSink): void {
    this.#live.delete(sink);
  }

  /** Clients following live now. */
  get clients(): number {
    return this.#live.size;
  }

  close(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    for (const sink of this.#live) sink.end();
    this.#live.clear();
  }

  #receive(r: KnownRecord): void {
    this.#received = r.position;
    if (this.#live.size === 0) return;
    this.#pending.push(r);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      const wait = this.#lastFlush + FLUSH_GAP_MS - performance.now();
      if (wait <= 0) setImmediate(() => this.#flush());
      else setTimeout(() => this.#flush(), wait);
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    this.#lastFlush = performance.now();
    const records = this.#pending;
    this.#pending = [];
    if (records.length === 0) return;
    const first = (records[0] as KnownRecord).position;
    const last = (records[records.length - 1] as KnownRecord).position;
    const json = new Map<KnownRecord, string>();
    const serialised = (r: KnownRecord): string => {
      let s = json.get(r);
      if (s === undefined) json.set(r, (s = recordJson(r)));
      return s;
    };
    const shared = new Map<string, FeedBatch>();
    const batchFor = (sink: FeedSink): FeedBatch => {
      const make = () =>
        new FeedBatch(
          records.filter((r) => r.position >= sink.next && matches(sink.filter, r)),
          last + 1,
          serialised,
        );
      // A client that joined within these records takes only its part: a batch of its own.
      if (sink.next > first) return make();
      let key = this.#keys.get(sink.filter);
      if (key === undefined) this.#keys.set(sink.filter, (key = filterKey(sink.filter)));
      let batch = shared.get(key);
      if (batch === undefined) shared.set(key, (batch = make()));
      return batch;
    };
    for (const sink of this.#live) {
      if (sink.closed) {
        this.#live.delete(sink);
        continue;
      }
      if (last < sink.next) continue;
      if (!sink.send(batchFor(sink))) {
        this.#live.delete(sink);
        sink.lagging(sink.next);
        continue;
      }
      sink.next = last + 1;
    }
  }
}
