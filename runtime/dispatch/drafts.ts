import os from 'node:os';
import type { Position } from '../../engine/position.js';
import {
  MAX_BATCH_ITEMS,
  type ClaimItem,
  type RecordDraft,
  type ResultOutcome,
} from '../../engine/records.js';

/**
 * Every `claim.*`, `result(s).recorded` and `worker.*` draft the runtime appends is built here (as
 * test/runtime/drafts.ts builds them for the fold tests). These run for every event: drafts are built
 * with Object.assign over a shared {@link DraftSource}, not spreads (several times cheaper on Node 20),
 * and each keeps the key order `{ type, ...source, ...item, ...rest }`.
 */

/** The fields every claim and result of one dispatcher shares. Shared, never mutated. */
export interface DraftSource {
  readonly queue: string;
  readonly subscriberId: string;
  readonly workerId: string;
}

/** One finished attempt as a result record carries it. */
export type ResultItem = ClaimItem & ResultOutcome;

type Writable<T> = { -readonly [K in keyof T]: T[K] };

export function draftSource(queue: string, subscriberId: string, workerId: string): DraftSource {
  return { queue, subscriberId, workerId };
}

/** Claims as records: one `claims.acquired` for many (each process folds it once), a `claim.acquired` for one. */
export function claimDrafts(
  source: DraftSource,
  items: readonly ClaimItem[],
  leaseMs: number,
  drafts: RecordDraft[],
): void {
  const [one] = items;
  if (items.length === 1 && one) {
    drafts.push(Object.assign({ type: 'claim.acquired' as const }, source, one, { leaseMs }));
  } else if (items.length > 1) {
    drafts.push(Object.assign({ type: 'claims.acquired' as const }, source, { leaseMs, items }));
  }
}

/** A claim given back on shutdown, so another worker need not wait for its lease. */
export function releasedDraft(source: DraftSource, claim: ClaimItem): RecordDraft {
  return Object.assign({ type: 'claim.released' as const }, source, claim, { reason: 'shutdown' });
}

/** A lease extension of a held or running claim (with the heartbeat). */
export function extendedDraft(source: DraftSource, claim: ClaimItem, leaseMs: number): RecordDraft {
  return Object.assign({ type: 'claim.extended' as const }, source, claim, { leaseMs });
}

/**
 * A `claim.reserved`: `slots` added to the worker's reservation, living `ttlMs` (`slots: 0` only
 * renews, `ttlMs: 0` cancels).
 */
export function reservedDraft(
  source: DraftSource,
  slots: number,
  leaseMs: number,
  ttlMs: number,
): RecordDraft {
  return Object.assign({ type: 'claim.reserved' as const }, source, { slots, leaseMs, ttlMs });
}

/** Results as records: one `results.recorded` per {@link MAX_BATCH_ITEMS}, a `result.recorded` for one. */
export function resultDrafts(source: DraftSource, items: readonly ResultItem[], drafts: RecordDraft[]): void {
  const [one] = items;
  if (items.length === 1 && one) {
    drafts.push(Object.assign({ type: 'result.recorded' as const }, source, one));
    return;
  }
  for (let i = 0; items.length > 1 && i < items.length; i += MAX_BATCH_ITEMS) {
    const batch = items.slice(i, i + MAX_BATCH_ITEMS);
    drafts.push(Object.assign({ type: 'results.recorded' as const }, source, { items: batch }));
  }
}

/**
 * Results of a dead worker's attempts, recorded by this one (`reportedBy`: the source's worker): like
 * {@link resultDrafts}, with the dead worker as the results' `workerId`.
 */
export function reportDrafts(
  source: DraftSource,
  deadWorkerId: string,
  items: readonly ResultItem[],
  drafts: RecordDraft[],
): void {
  const reported: RecordDraft[] = [];
  resultDrafts({ ...source, workerId: deadWorkerId }, items, reported);
  for (const d of reported) drafts.push(Object.assign(d, { reportedBy: source.workerId }));
}

/** An event the subscriber's filter does not take: a result, not a run. */
export function skippedItem(eventId: string, eventPosition: Position, attempt: number): ResultItem {
  return { eventId, eventPosition, attempt, status: 'skipped', durationMs: 0 };
}

/**
 * A finished attempt's result item, built field by field (no conditional spreads: this runs for every
 * event). `error` only for a failure, `details` and `retryAt` only when set.
 */
export function resultItem(
  eventId: string,
  eventPosition: Position,
  attempt: number,
  status: ResultOutcome['status'],
  durationMs: number,
  details: unknown,
  error: ResultOutcome['error'],
  retryAt: number | undefined,
): ResultItem {
  const result: Writable<ResultItem> = {
    eventId,
    eventPosition,
    attempt,
    status,
    durationMs,
  };
  if (details !== undefined) result.details = details;
  if (error !== undefined) result.error = error;
  if (retryAt !== undefined) result.retryAt = retryAt;
  return result;
}

export type WorkerRecordType = 'worker.joined' | 'worker.heartbeat' | 'worker.left';

/**
 * A `worker.*` draft: the worker's `hostname` and pid, the queues it serves and the subscribers it
 * runs; `ttlMs` how long it counts as alive after this record (joined, heartbeat); `renews` the
 * subscribers whose reservation a heartbeat renews.
 */
export function workerDraft(
  type: WorkerRecordType,
  workerId: string,
  queues: string[],
  subscribers: string[],
  ttlMs: number,
  renews: readonly string[] = [],
): RecordDraft {
  const base = { workerId, host: os.hostname(), pid: process.pid, queues, subscribers };
  if (type === 'worker.left') return { type, ...base, reason: 'shutdown' };
  return type === 'worker.heartbeat' && renews.length > 0
    ? { type, ...base, ttlMs, renews }
    : { type, ...base, ttlMs };
}
