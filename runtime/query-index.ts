import {
  isKnownRecord,
  resultAt,
  resultRef,
  unbatched,
  type StoredRecord,
  type RecordOf,
} from '../engine/records.js';
import type { Position } from '../engine/position.js';
import type { LogStore } from '../engine/storage.js';
import { readRetained, type HeldEvents } from './held-events.js';
import type { LiveViews } from './live-views.js';
import { firstOfKey, type KeyWindow } from '../projections/dispatch/keys.js';

/**
 * Lookups for the query API (event by id, results by event, a queue's events), built on first use by
 * reading the log once, then kept current from the live fold. Processes that never query never pay for
 * it; those that do hold a few numbers per event and result of the whole history (not bounded by the
 * open events, unlike the fold's views: see docs/design.md). After retention, the log is read from its
 * first retained position, with the open events of the snapshot the process started from: removed
 * events and results answer not found.
 */
export class QueryIndex {
  readonly events = new Map<string, Position>();
  /** Event id → its results, by {@link resultRef} (a result may be one item of a `results.recorded`). */
  readonly results = new Map<string, number[]>();
  readonly resultsByQueue = new Map<string, number[]>();
  /** Queue → positions of its events, keyed twins aside (as the dispatch view indexes them, all of them). */
  readonly eventsByQueue = new Map<string, number[]>();
  /** Each queue's idempotency keys, to tell twins as the dispatch fold does (projections keys.ts). */
  readonly #keys = new Map<string, KeyWindow>();
  #ready: Promise<void> | undefined;

  constructor(
    private readonly store: LogStore,
    private readonly runtime: LiveViews,
  ) {}

  /** Resolves once the index covers everything folded so far. */
  ready(): Promise<void> {
    this.#ready ??= this.#build();
    return this.#ready;
  }

  async #build(): Promise<void> {
    const upTo = this.runtime.position;
    // Live records wait until the history is in, so every list stays in position order.
    let pending: StoredRecord[] | undefined = [];
    this.runtime.taps.add((r) => {
      if (r.position <= upTo) return;
      if (pending) pending.push(r);
      else this.#add(r);
    });
    // The events retention removed that the snapshot held, then the log from its first retained record.
    const first = await this.store.first();
    const held = [...this.runtime.held.values()].filter((r) => r.position < first);
    for (const r of held.sort((a, b) => a.position - b.position)) this.#add(r);
    for await (const r of readRetained(this.store, { from: first, to: upTo + 1 })) this.#add(r);
    for (const r of pending) this.#add(r);
    pending = undefined;
  }

  #add(r: StoredRecord): void {
    if (!isKnownRecord(r)) return;
    if (r.type === 'event.published') {
      if (!this.events.has(r.eventId)) this.events.set(r.eventId, r.position);
      let keys = this.#keys.get(r.queue);
      if (!keys) this.#keys.set(r.queue, (keys = { keys: new Map(), keyUntil: new Map() }));
      if (firstOfKey(keys, r)) push(this.eventsByQueue, r.queue, r.position);
    } else if (r.type === 'result.recorded' || r.type === 'results.recorded') {
      for (const x of unbatched(r) as RecordOf<'result.recorded'>[]) {
        const ref = resultRef(x);
        push(this.results, x.eventId, ref);
        push(this.resultsByQueue, x.queue, ref);
      }
    }
  }
}

/**
 * Reads the records at the given positions (ascending), in as few range reads as sensible: the process's
 * `held` events first (its views' {@link LiveViews.held}), the log for the rest.
 */
export async function readPositions(
  store: LogStore,
  held: HeldEvents,
  positions: readonly Position[],
): Promise<Map<Position, StoredRecord>> {
  const out = new Map<Position, StoredRecord>();
  const sorted = positions.filter((p) => !held.has(p)).sort((a, b) => a - b);
  for (const p of positions) {
    const r = held.get(p);
    if (r) out.set(p, r);
  }
  let i = 0;
  while (i < sorted.length) {
    const from = sorted[i] as Position;
    let j = i;
    // one range read when the next wanted position is close; otherwise a new read
    while (j + 1 < sorted.length && (sorted[j + 1] as Position) - (sorted[j] as Position) < 64) j++;
    const to = (sorted[j] as Position) + 1;
    const wanted = new Set(sorted.slice(i, j + 1));
    for await (const r of readRetained(store, { from, to }))
      if (wanted.has(r.position)) out.set(r.position, r);
    i = j + 1;
  }
  // Not in the log: removed by retention after this process started? The newest snapshot holds the open ones.
  const missing = sorted.filter((p) => !out.has(p));
  if (missing.length > 0 && (await held.holdFromNewestSnapshot(store))) {
    for (const p of missing) {
      const r = held.get(p);
      if (r) out.set(p, r);
    }
  }
  return out;
}

/** The results named by refs ({@link resultRef}), each as a single `result.recorded` (see {@link readPositions}). */
export async function readResults(
  store: LogStore,
  held: HeldEvents,
  refs: readonly number[],
): Promise<Map<number, RecordOf<'result.recorded'>>> {
  const records = await readPositions(
    store,
    held,
    refs.map((ref) => resultAt(ref).position),
  );
  const out = new Map<number, RecordOf<'result.recorded'>>();
  for (const ref of refs) {
    const { position, item } = resultAt(ref);
    const r = records.get(position);
    if (r?.type === 'result.recorded') out.set(ref, r as RecordOf<'result.recorded'>);
    else if (r?.type === 'results.recorded') {
      const x = unbatched(r)[item];
      if (x) out.set(ref, x as RecordOf<'result.recorded'>);
    }
  }
  return out;
}

function push(map: Map<string, number[]>, key: string, p: number): void {
  const list = map.get(key);
  if (list) list.push(p);
  else map.set(key, [p]);
}
