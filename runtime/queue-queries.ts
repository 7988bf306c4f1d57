import { filter, mergeMap } from 'rxjs';
import { eventCount, lowerBound, oldestOpen } from '../projections/dispatch/index.js';
import { AbortedError, ClosedError, InvalidArgumentError, NotFoundError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import { batchItems, isKnownRecord, resultRef, type StoredRecord, type RecordOf } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import type { LiveViews } from './live-views.js';
import { toQueueEvent } from './queue-event.js';
import { readPositions, readResults, type QueryIndex } from './query-index.js';
import { pageStart } from './paging.js';
import type { EventFilters, Page, PageOptions, QueueEvent, QueueResult, ResultFilters } from './types.js';

type EventRecord = RecordOf<'event.published'>;
type ResultRecord = RecordOf<'result.recorded'>;

/** What the queries read: the store, the live views and the query index (the runtime's worker). */
export interface QueryContext {
  readonly store: LogStore;
  readonly views: LiveViews;
  readonly index: QueryIndex;
}

/**
 * Waits until the fold has caught up with the log's head as it is now, so that a query sees every record
 * appended before it was called (the caller's own publish, claim or result included).
 */
export async function caughtUp(m: QueryContext): Promise<void> {
  const head = await m.store.head();
  if (head > 0) await m.views.waitFor(head - 1);
}

export async function eventAt<T>(m: QueryContext, position: Position): Promise<QueueEvent<T> | undefined> {
  const r = (await readPositions(m.store, m.views.held, [position])).get(position);
  return r && isKnownRecord(r) && r.type === 'event.published' ? toQueueEvent<T>(r) : undefined;
}

export async function getEvent<T>(m: QueryContext, queue: string, id: string): Promise<QueueEvent<T>> {
  const [e] = await batchGetEvents<T>(m, queue, [id]);
  if (!e) throw new NotFoundError('event', id);
  return e;
}

export async function batchGetEvents<T>(
  m: QueryContext,
  queue: string,
  ids: readonly string[],
): Promise<(QueueEvent<T> | null)[]> {
  const list: unknown = ids;
  if (!Array.isArray(list))
    throw new InvalidArgumentError(`ids must be an array of event ids, got: ${JSON.stringify(ids)}`);
  await caughtUp(m);
  await m.index.ready();
  const positions = ids.map((id) => m.index.events.get(id));
  const records = await readPositions(
    m.store,
    m.views.held,
    positions.filter((p) => p !== undefined),
  );
  return positions.map((p) => {
    const r = p === undefined ? undefined : (records.get(p) as EventRecord | undefined);
    return r?.queue === queue ? toQueueEvent<T>(r) : null;
  });
}

export function timeRange(f: {
  after?: number | Date | undefined;
  before?: number | Date | undefined;
}): (t: number) => boolean {
  const a = f.after instanceof Date ? f.after.getTime() : f.after;
  const b = f.before instanceof Date ? f.before.getTime() : f.before;
  return (t) => (a === undefined || t > a) && (b === undefined || t < b);
}

/** Reads what ascending keys name: records by position, or results by `resultRef`. */
type Reader<R> = (keys: number[]) => Promise<Map<number, R>>;

/** The records at the given positions. */
export function logReader(m: QueryContext): Reader<StoredRecord> {
  return (positions) => readPositions(m.store, m.views.held, positions);
}

/** Walks what ascending keys name in chunks, from index `from`, skipping keys that name nothing. */
export async function* walk<R>(
  keys: readonly number[] | Float64Array,
  from: number,
  read: Reader<R>,
): AsyncGenerator<[key: number, value: R]> {
  for (let i = from; i < keys.length; i += 256) {
    const chunk = Array.from(keys.slice(i, i + 256));
    const found = await read(chunk);
    for (const key of chunk) {
      const value = found.get(key);
      if (value !== undefined) yield [key, value];
    }
  }
}

/** One page over ascending keys: the page id is the key the next page starts at. */
export async function collectPage<R, I>(
  keys: readonly number[] | Float64Array,
  options: PageOptions,
  read: Reader<R>,
  map: (value: R) => I | undefined,
): Promise<Page<I>> {
  const { start, limit } = pageStart(options);
  const items: I[] = [];
  for await (const [key, value] of walk(keys, lowerBound(keys, start), read)) {
    const item = map(value);
    if (item === undefined) continue;
    if (items.length === limit) return { items, nextPageId: String(key) };
    items.push(item);
  }
  return { items, nextPageId: null };
}

export async function searchEvents<T>(
  m: QueryContext,
  queue: string,
  o: PageOptions & EventFilters,
): Promise<Page<QueueEvent<T>>> {
  pageStart(o);
  await caughtUp(m);
  const inRange = timeRange({ after: o.publishedAfter, before: o.publishedBefore });
  const positions = await eventPositions(m, queue);
  return collectPage(positions, o, logReader(m), (r) =>
    inRange(r.time) ? toQueueEvent<T>(r as EventRecord) : undefined,
  );
}

export async function countEvents(m: QueryContext, queue: string, f: EventFilters): Promise<number> {
  await caughtUp(m);
  const q = m.views.dispatch.queues.get(queue);
  if (f.publishedAfter === undefined && f.publishedBefore === undefined) return eventCount(q);
  const positions = await eventPositions(m, queue);
  const inRange = timeRange({ after: f.publishedAfter, before: f.publishedBefore });
  let n = 0;
  for await (const [, r] of walk(positions, 0, logReader(m))) if (inRange(r.time)) n++;
  return n;
}

/**
 * Positions of every event of the queue (keyed twins aside): the dispatch view's while it holds them
 * all; once it dropped finished ones (event-index.ts), the query index's.
 */
async function eventPositions(m: QueryContext, queue: string): Promise<readonly number[] | Float64Array> {
  const q = m.views.dispatch.queues.get(queue);
  if (!q || q.base === 0) return q?.positions ?? [];
  await m.index.ready();
  return m.index.eventsByQueue.get(queue) ?? [];
}

export function toResult(m: QueryContext, r: ResultRecord): QueueResult {
  return buildResult(m, r, r, r.item);
}

/**
 * The results a record holds, as the API gives them: one per item of a `results.recorded` (the items
 * every fold takes), the record itself for a `result.recorded`, none for any other record. Built from
 * the batch and its items directly, without the single records `unbatched` would make first:
 * `results$` runs this for every result of the log. `only`, when given, picks the items first (by
 * event id and queue), so a waiter for one result builds nothing for the others.
 */
export function resultsOf(
  m: QueryContext,
  r: StoredRecord,
  only?: { readonly eventId: string; readonly queue: string },
): QueueResult[] {
  if (r.type === 'result.recorded') {
    const one = r as ResultRecord;
    return only !== undefined && (one.eventId !== only.eventId || one.queue !== only.queue)
      ? []
      : [toResult(m, one)];
  }
  if (r.type !== 'results.recorded') return [];
  const b = r as RecordOf<'results.recorded'>;
  if (only !== undefined && b.queue !== only.queue) return [];
  const items = batchItems(b);
  const out: QueueResult[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as (typeof items)[number];
    if (only === undefined || it.eventId === only.eventId) out.push(buildResult(m, b, it, i));
  }
  return out;
}

/** The fields a result takes from its record (a batch's for one of its items). */
type ResultHead = Pick<
  ResultRecord,
  'position' | 'time' | 'queue' | 'subscriberId' | 'workerId' | 'reportedBy'
>;
/** The fields a result takes from its item (the record itself for a `result.recorded`). */
type ResultBody = Pick<
  ResultRecord,
  'eventId' | 'eventPosition' | 'attempt' | 'status' | 'details' | 'error' | 'retryAt' | 'durationMs'
>;

/**
 * A result of the API. Optional fields are set only when present, in the order of {@link QueueResult}
 * (one object, not a literal of conditional spreads: those copy it once per field).
 */
function buildResult(m: QueryContext, h: ResultHead, o: ResultBody, item: number | undefined): QueueResult {
  const sub = m.views.dispatch.subscribers.get(h.subscriberId);
  const r: Partial<Record<keyof QueueResult, unknown>> = { id: resultId({ position: h.position, item }) };
  r.position = h.position;
  if (item !== undefined) r.item = item;
  r.eventId = o.eventId;
  r.eventPosition = o.eventPosition;
  r.queue = h.queue;
  r.subscriber = sub?.reg.name ?? h.subscriberId.slice(h.queue.length + 1);
  r.workerId = h.workerId;
  r.attempt = o.attempt;
  r.status = o.status;
  if (o.details !== undefined) r.details = o.details;
  if (o.error !== undefined) r.error = o.error;
  if (o.retryAt !== undefined) r.retryAt = o.retryAt;
  if (h.reportedBy !== undefined) r.reportedBy = h.reportedBy;
  r.durationMs = o.durationMs;
  r.recordedAt = h.time;
  r.accepted = !m.views.dispatch.rejected.has(resultRef({ position: h.position, item }));
  return r as QueueResult;
}

export async function getResults(
  m: QueryContext,
  queue: string,
  eventId: string,
  o: { includeRejected?: boolean } = {},
): Promise<QueueResult[]> {
  await caughtUp(m);
  await m.index.ready();
  const refs = m.index.results.get(eventId) ?? [];
  const records = await readResults(m.store, m.views.held, refs);
  return refs
    .map((ref) => records.get(ref))
    .filter((r): r is ResultRecord => r?.queue === queue)
    .map((r) => toResult(m, r))
    .filter((r) => r.accepted || o.includeRejected === true);
}

export async function searchResults(
  m: QueryContext,
  queue: string,
  o: PageOptions & ResultFilters,
): Promise<Page<QueueResult>> {
  pageStart(o);
  await caughtUp(m);
  await m.index.ready();
  const inRange = timeRange({ after: o.recordedAfter, before: o.recordedBefore });
  const refs =
    o.eventId !== undefined
      ? (m.index.results.get(o.eventId) ?? [])
      : (m.index.resultsByQueue.get(queue) ?? []);
  return collectPage(
    refs,
    o,
    (chunk) => readResults(m.store, m.views.held, chunk),
    (r) => {
      if (r.queue !== queue || !inRange(r.time)) return undefined;
      const res = toResult(m, r);
      if (o.workerId !== undefined && res.workerId !== o.workerId) return undefined;
      if (o.subscriber !== undefined && res.subscriber !== o.subscriber) return undefined;
      if (o.status !== undefined && res.status !== o.status) return undefined;
      if (!res.accepted && o.includeRejected !== true) return undefined;
      return res;
    },
  );
}

/** A result that ends the event's story for its subscriber: ok, skipped, or a failure with no retry. */
function isFinal(r: QueueResult, subscriber: string | undefined): boolean {
  if (!r.accepted || (subscriber !== undefined && r.subscriber !== subscriber)) return false;
  return r.status === 'ok' || r.status === 'skipped' || r.retryAt === undefined;
}

export function waitForResult(
  m: QueryContext,
  queue: string,
  eventId: string,
  o: { subscriber?: string; signal?: AbortSignal },
): Promise<QueueResult> {
  const { signal } = o;
  const aborted = (): AbortedError => {
    const reason: unknown = signal?.reason;
    const why = reason instanceof Error ? `: ${reason.message}` : '';
    return new AbortedError(`waitForResult was aborted${why}`, { cause: reason });
  };
  if (signal?.aborted === true) return Promise.reject(aborted());
  return new Promise<QueueResult>((resolve, reject) => {
    // Listen before looking at the recorded results, so a result folded in between is not missed.
    const live = m.views.records$
      .pipe(
        mergeMap((r) => resultsOf(m, r, { eventId, queue })),
        filter((r) => isFinal(r, o.subscriber)),
      )
      .subscribe({
        next: (r) => settle(() => resolve(r)),
        error: (e: Error) => settle(() => reject(e)),
        complete: () => settle(() => reject(new ClosedError('queue manager'))),
      });
    const onAbort = (): void => settle(() => reject(aborted()));
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    function settle(then: () => void): void {
      if (settled) return;
      settled = true;
      live.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      then();
    }
    getResults(m, queue, eventId).then(
      (recorded) => {
        const done = recorded.find((r) => isFinal(r, o.subscriber) && !redriven(m, r, recorded));
        if (done) settle(() => resolve(done));
        // Caught up with the log as it was when called: an event that is not in it yet never will be
        // (its id is made when it is appended), so waiting would be forever.
        else if (!m.index.events.has(eventId)) settle(() => reject(new NotFoundError('event', eventId)));
      },
      (e: unknown) => settle(() => reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

/**
 * True when a result that made its event dead is no longer the subscriber's last word: the event was
 * redriven since (`events.redriven`), so the result of the new attempt is the one to wait for. A dead
 * event leaves its subscriber's dead set only by a redrive; once the new attempt has a result, that one
 * comes after it. (`recorded` holds the event's accepted results in log order.)
 */
function redriven(m: QueryContext, r: QueueResult, recorded: readonly QueueResult[]): boolean {
  if (r.status === 'ok' || r.status === 'skipped') return false;
  const sub = m.views.dispatch.subscribers.get(`${r.queue}/${r.subscriber}`);
  if (sub?.reg.delivery !== 'competing') return false;
  if (!sub.dead.has(r.eventPosition)) return true;
  return recorded.some((x) => x.subscriber === r.subscriber && x.position > r.position);
}

export async function waitDrained(
  m: QueryContext,
  queue: string,
  endPosition: Position,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  await m.views.waitFor(endPosition);
  for (;;) {
    const q = m.views.dispatch.queues.get(queue);
    const drained = [...m.views.dispatch.subscribers.values()]
      .filter((s) => s.reg.queue === queue && !s.deleted && s.reg.delivery === 'competing')
      .every((s) => (oldestOpen(s, q) ?? Infinity) > endPosition);
    if (drained) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(50, deadline - Date.now())));
  }
}

/** A result's id: the position of its record, and `.item` for an item of a `results.recorded`. */
export function resultId(r: { readonly position: Position; readonly item?: number | undefined }): string {
  return r.item === undefined ? String(r.position) : `${r.position}.${r.item}`;
}

/** The `resultRef` an id names; undefined for a string that is not a result id. */
function refOf(id: string): number | undefined {
  const m = /^(\d{1,15})(?:\.(\d{1,4}))?$/.exec(id);
  if (!m) return undefined;
  return resultRef({ position: Number(m[1]), ...(m[2] === undefined ? {} : { item: Number(m[2]) }) });
}

/** Results by id (`QueueResult.id`), null where none of this queue has it; fenced ones included. */
export async function batchGetResults(
  m: QueryContext,
  queue: string,
  ids: readonly string[],
): Promise<(QueueResult | null)[]> {
  const list: unknown = ids;
  if (!Array.isArray(list) || !ids.every((id) => typeof id === 'string')) {
    throw new InvalidArgumentError(`ids must be an array of result ids, got: ${JSON.stringify(ids)}`);
  }
  await caughtUp(m);
  const refs = ids.map(refOf);
  const found = await readResults(
    m.store,
    m.views.held,
    refs.filter((r) => r !== undefined),
  );
  return refs.map((ref, i) => {
    const r = ref === undefined ? undefined : found.get(ref);
    return r?.queue === queue && resultId(r) === ids[i] ? toResult(m, r) : null;
  });
}

export async function getResult(m: QueryContext, queue: string, id: string): Promise<QueueResult> {
  if (typeof id !== 'string')
    throw new InvalidArgumentError(`result id must be a string, got: ${JSON.stringify(id)}`);
  const [r] = await batchGetResults(m, queue, [id]);
  if (!r) throw new NotFoundError('result', id);
  return r;
}

/** How many results match `f` (the same filters as {@link searchResults}). */
export async function countResults(m: QueryContext, queue: string, f: ResultFilters): Promise<number> {
  let n = 0;
  let pageId: string | null | undefined;
  do {
    const page = await searchResults(m, queue, { ...f, limit: 100, ...(pageId ? { pageId } : {}) });
    n += page.items.length;
    pageId = page.nextPageId;
  } while (pageId !== null);
  return n;
}
