// What the soak (bench/soak.ts) reads back from a log once its processes are gone: which publisher batches
// are visible, whole or in part, and what every event of the workers' queue ended with.
import {
  dispatchFold,
  foldAll,
  openStore,
  resultRef,
  unbatched,
  type LogStore,
  type RecordOf,
  type StoredRecord,
} from '../index.js';

/** Every record of the log at `url`, read through a handle of its own. */
export async function readLog(url: string): Promise<StoredRecord[]> {
  const store = await openStore(url);
  try {
    return await readAll(store);
  } finally {
    await store.close();
  }
}

async function readAll(store: LogStore): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const chunk of store.readChunks()) out.push(...chunk);
  return out;
}

/** What became of the publishers' batches. */
export interface BatchOutcome {
  /** Acknowledged batches with no record in the log. */
  readonly lost: number;
  /** Batches (acknowledged or not) with some but not all of their records in the log, or some twice. */
  readonly partial: number;
  /** Batches wholly in the log, acknowledged or not (a batch cut off by a kill may have landed). */
  readonly whole: number;
  /** Positions that are not 0, 1, 2, … in order. */
  readonly gaps: number;
}

/**
 * Counts the batches of `acked` (ids `<tag>.<seq>.<size>`, records `<batch id>/<i>` on queue `soak`, as
 * bench/soak-publisher.ts writes them) that the log lost or holds only in part.
 */
export function batchOutcome(records: readonly StoredRecord[], acked: ReadonlySet<string>): BatchOutcome {
  const seen = new Map<string, Set<string>>();
  let gaps = 0;
  records.forEach((r, i) => {
    if (r.position !== i) gaps++;
    if (r.type !== 'event.published') return;
    const e = r as RecordOf<'event.published'>;
    if (e.queue !== 'soak') return;
    const batch = e.eventId.slice(0, e.eventId.lastIndexOf('/'));
    const items = seen.get(batch) ?? new Set<string>();
    // A second copy of a record shows up as a count above the batch's size.
    items.add(items.has(e.eventId) ? `${e.eventId}#${i}` : e.eventId);
    seen.set(batch, items);
  });
  let partial = 0;
  let whole = 0;
  for (const [batch, items] of seen) {
    if (items.size === batchSize(batch)) whole++;
    else partial++;
  }
  let lost = 0;
  for (const batch of acked) if (!seen.has(batch)) lost++;
  return { lost, partial, whole, gaps };
}

function batchSize(batch: string): number {
  return Number(batch.slice(batch.lastIndexOf('.') + 1));
}

/** What every event of a queue ended with, for one subscriber. */
export interface WorkOutcome {
  readonly events: number;
  /** `ok` results recorded, accepted or fenced. */
  readonly ok: number;
  /** `ok` results the fold rejected: recorded by a worker whose claim had passed to another. */
  readonly fenced: number;
  /** Events with more than one accepted `ok` result. */
  readonly duplicates: number;
  /** Events with no accepted `ok` result. */
  readonly missing: number;
  /** Accepted `ok` results of a second or later attempt: events run again after their worker was killed. */
  readonly rerun: number;
  /** Event ids in log order, for cross-checks through the public API. */
  readonly eventIds: readonly string[];
}

/**
 * Folds the log as every process does and counts, per event of `queue`, the accepted `ok` results of the
 * subscriber named `subscriber`: a result whose `resultRef` the fold rejected (fenced) does not count.
 */
export function workOutcome(
  records: readonly StoredRecord[],
  queue: string,
  subscriber: string,
): WorkOutcome {
  const state = foldAll(dispatchFold, records);
  const subscriberId = `${queue}/${subscriber}`;
  const events = records.filter(
    (r): r is RecordOf<'event.published'> =>
      r.type === 'event.published' && (r as RecordOf<'event.published'>).queue === queue,
  );
  const accepted = new Map<string, number>();
  let ok = 0;
  let fenced = 0;
  let rerun = 0;
  for (const r of records.flatMap(unbatched)) {
    if (r.type !== 'result.recorded') continue;
    const res = r as RecordOf<'result.recorded'>;
    if (res.subscriberId !== subscriberId || res.status !== 'ok') continue;
    ok++;
    if (state.rejected.has(resultRef(res))) fenced++;
    else {
      accepted.set(res.eventId, (accepted.get(res.eventId) ?? 0) + 1);
      if (res.attempt > 1) rerun++;
    }
  }
  let duplicates = 0;
  let missing = 0;
  for (const e of events) {
    const n = accepted.get(e.eventId) ?? 0;
    if (n === 0) missing++;
    else if (n > 1) duplicates++;
  }
  return {
    events: events.length,
    ok,
    fenced,
    rerun,
    duplicates,
    missing,
    eventIds: events.map((e) => e.eventId),
  };
}
