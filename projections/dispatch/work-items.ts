/**
 * Work items and leases: where each (event, competing subscriber) pair stands. Folds `claim.acquired`,
 * `claims.acquired`, `claim.extended`, `claim.released`, `result.recorded` and `results.recorded`.
 *
 * An item is made on first touch ({@link itemOf}) as `released` and moves:
 * - released | retry | claimed with a lapsed lease → claimed: the first valid claim in log order
 *   ({@link acquired}: not finished, no live lease, available, the next attempt number);
 * - claimed → claimed, later lease: an extension by the holder ({@link extended});
 * - claimed → released: given back by the holder ({@link released});
 * - claimed → done | retry | dead | skipped: the holder's result ({@link recorded}); any item without
 *   a live lease → skipped: a skip needs no claim;
 * - claimed by a dead worker (liveness.ts) → retry | dead: the first `failed` result another worker
 *   reports for that worker and attempt ({@link crashReported}); the holder itself moves it no more.
 *
 * Invariants: only the holder of the live lease (owner, attempt), while alive, moves a claimed item
 * (fencing: other results count as rejected, by `resultRef` in `DispatchState.rejected`), or one report
 * of its death; done, dead and skipped are final (until an `events.redriven` puts a dead one back:
 * redrive.ts); `finishedBelow` only grows, over finished items, which then leave `items`.
 * @module
 */
import {
  batchItems,
  resultRef,
  type RateLimit,
  type RecordOf,
  type ResultStatus,
} from '../../engine/records.js';
import type { Position } from '../../engine/position.js';
import { broadcastHandled } from './broadcast-progress.js';
import { lowerBound } from './event-index.js';
import { ownerDead } from './liveness.js';
import type { DispatchState, SubscriberState, WorkItem } from './state.js';

/** The item of a competing subscriber's event, created on first touch; undefined when not dispatchable. */
export function itemOf(
  state: DispatchState,
  sub: SubscriberState,
  eventPosition: Position,
): WorkItem | undefined {
  const found = sub.items.get(eventPosition);
  if (found) return found;
  const q = state.queues.get(sub.reg.queue);
  if (!q || eventPosition < sub.reg.startPosition) return undefined;
  const index = lowerBound(q.positions, eventPosition); // relative to q.base
  if (index + q.base < sub.finishedBelow || q.positions[index] !== eventPosition) return undefined;
  const item: WorkItem = {
    eventPosition,
    status: 'released',
    attempt: 0,
    owner: undefined,
    claimPosition: undefined,
    leaseUntil: 0,
    availableAt: q.availableAt[index] ?? 0,
    failures: 0,
  };
  sub.items.set(eventPosition, item);
  return item;
}

export function isFinished(item: WorkItem): boolean {
  return item.status === 'done' || item.status === 'dead' || item.status === 'skipped';
}

/** True while a claim holds the item's lease at log time `time`. */
export function isLeased(item: WorkItem, time: number): boolean {
  return item.status === 'claimed' && item.leaseUntil > time;
}

/** The subscriber when it is registered, not deleted and competing: the only kind that has items. */
export function competing(state: DispatchState, subscriberId: string): SubscriberState | undefined {
  const sub = state.subscribers.get(subscriberId);
  return sub && !sub.deleted && sub.reg.delivery === 'competing' ? sub : undefined;
}

/** What the fold reads of a claim: a `claim.acquired`, or one item of a `claims.acquired`. */
export interface ClaimView {
  readonly subscriberId: string;
  readonly workerId: string;
  readonly eventPosition: Position;
  readonly attempt: number;
  readonly leaseMs: number;
  readonly position: Position;
  readonly time: number;
}

/** What the fold reads of a result: a `result.recorded`, or one item of a `results.recorded`. */
interface ResultView {
  readonly subscriberId: string;
  readonly workerId: string;
  readonly eventPosition: Position;
  readonly attempt: number;
  readonly status: ResultStatus;
  readonly retryAt?: number | undefined;
  readonly position: Position;
  readonly time: number;
  readonly item?: number;
  /** Set on a report of `workerId`'s death by another worker. */
  readonly reportedBy?: string | undefined;
}

/** First valid claim in log order wins: not finished, no live lease, available, the next attempt. */
export function acquired(state: DispatchState, r: ClaimView): boolean {
  const sub = competing(state, r.subscriberId);
  const q = sub && state.queues.get(sub.reg.queue);
  if (!sub || !q) return false;
  const item = itemOf(state, sub, r.eventPosition);
  if (!item || isFinished(item) || isLeased(item, r.time)) return false;
  if (r.time < item.availableAt || r.attempt !== item.attempt + 1) return false;
  if (sub.reg.rateLimit && !withinRate(sub, sub.reg.rateLimit, r.time)) return false;
  item.status = 'claimed';
  item.attempt = r.attempt;
  item.owner = r.workerId;
  item.claimPosition = r.position;
  item.leaseUntil = r.time + r.leaseMs;
  return true;
}

/**
 * True when the subscriber's rate limit leaves room for a claim at log time `time`, which is then
 * counted: claims past the limit are not granted, whichever worker made them (the limit holds across
 * workers without any channel but the log).
 */
function withinRate(sub: SubscriberState, limit: RateLimit, time: number): boolean {
  const starts = sub.starts;
  while (starts.length > 0 && (starts[0] as number) <= time - limit.perMs) starts.shift();
  if (starts.length >= limit.max) return false;
  starts.push(time);
  return true;
}

/** When the next claim may be granted at `now` under the subscriber's rate limit (`now` when it may now). */
export function rateFreeAt(sub: SubscriberState, now: number): number {
  return rateRoom(sub, now).freeAt;
}

/** Claims the rate limit grants at `now` (Infinity without one), and when the next may be granted. */
export function rateRoom(sub: SubscriberState, now: number): { room: number; freeAt: number } {
  const limit = sub.reg.rateLimit;
  if (!limit) return { room: Infinity, freeAt: now };
  const recent = sub.starts.filter((t) => t > now - limit.perMs);
  const room = limit.max - recent.length;
  return { room, freeAt: room > 0 ? now : (recent[recent.length - limit.max] as number) + limit.perMs };
}

/** Each item of a `claims.acquired` as a claim of its own, in order. */
export function acquiredBatch(state: DispatchState, r: RecordOf<'claims.acquired'>): void {
  const { subscriberId, workerId, leaseMs, position, time } = r;
  for (const { eventPosition, attempt } of batchItems(r)) {
    acquired(state, { subscriberId, workerId, leaseMs, position, time, eventPosition, attempt });
  }
}

/** True when `r`'s worker holds the item's live lease for `r`'s attempt, and is not dead. */
function holds(
  state: DispatchState,
  item: WorkItem | undefined,
  r: { workerId: string; attempt: number; time: number },
): boolean {
  return (
    item !== undefined &&
    item.owner === r.workerId &&
    item.attempt === r.attempt &&
    isLeased(item, r.time) &&
    !ownerDead(state, item, r.time)
  );
}

export function extended(state: DispatchState, r: RecordOf<'claim.extended'>): void {
  const sub = competing(state, r.subscriberId);
  const item = sub?.items.get(r.eventPosition);
  if (item && holds(state, item, r)) item.leaseUntil = Math.max(item.leaseUntil, r.time + r.leaseMs);
}

export function released(state: DispatchState, r: RecordOf<'claim.released'>): void {
  const sub = competing(state, r.subscriberId);
  const item = sub?.items.get(r.eventPosition);
  if (!item || !holds(state, item, r)) return;
  item.status = 'released';
  item.owner = undefined;
  item.leaseUntil = 0;
}

/** A result counts only from the claim holding the lease (fencing); `skipped` needs no claim. */
export function recorded(state: DispatchState, r: ResultView): void {
  const sub = state.subscribers.get(r.subscriberId);
  if (!sub) return;
  if (sub.reg.delivery === 'broadcast') {
    countResult(sub, r.status);
    if (r.status === 'ok' || r.status === 'skipped' || r.retryAt === undefined)
      broadcastHandled(state, sub, r.workerId, r.eventPosition);
    return;
  }
  const item = itemOf(state, sub, r.eventPosition);
  if (r.reportedBy !== undefined) return crashReported(state, sub, item, r);
  // A skip needs no claim, but may not race one; the holder of a claim may skip too (an event bound to a
  // worker by its reservation that the subscriber's filter turns down).
  if (r.status === 'skipped' && !holds(state, item, r)) {
    if (!skippable(item, r.time)) {
      state.rejected.add(resultRef(r)); // a second skip, or one racing a claim: not the outcome
      return;
    }
    item.status = 'skipped';
    sub.counts.skipped++;
    return advance(state, sub, item);
  }
  if (!item || !holds(state, item, r)) {
    sub.counts.rejected++;
    state.rejected.add(resultRef(r));
    return;
  }
  item.owner = undefined;
  item.leaseUntil = 0;
  if (r.status === 'skipped') {
    item.status = 'skipped';
    sub.counts.skipped++;
  } else if (r.status === 'ok') {
    item.status = 'done';
    sub.counts.done++;
  } else return failed(state, sub, item, r.retryAt);
  advance(state, sub, item);
}

/**
 * A report that the worker holding the item's claim died (`reportedBy`): counts as that attempt's
 * `failed` result when the item is still claimed by that worker for that attempt and the worker is dead
 * at the report's log time. Of several reports of one attempt (live workers noticing at once) the first
 * in log order counts; the others are rejected (`DispatchState.rejected`) without counting as fenced.
 */
function crashReported(
  state: DispatchState,
  sub: SubscriberState,
  item: WorkItem | undefined,
  r: ResultView,
): void {
  const applies =
    item !== undefined &&
    r.status === 'failed' &&
    item.status === 'claimed' &&
    item.owner === r.workerId &&
    item.attempt === r.attempt &&
    ownerDead(state, item, r.time);
  if (!applies) {
    state.rejected.add(resultRef(r));
    return;
  }
  item.owner = undefined;
  item.leaseUntil = 0;
  failed(state, sub, item, r.retryAt);
}

/** A failed attempt: retried at `retryAt`, or dead. */
function failed(
  state: DispatchState,
  sub: SubscriberState,
  item: WorkItem,
  retryAt: number | undefined,
): void {
  item.failures++;
  sub.counts.failed++;
  if (retryAt !== undefined) {
    item.status = 'retry';
    item.availableAt = retryAt;
    return;
  }
  item.status = 'dead';
  sub.counts.dead++;
  sub.dead.add(item.eventPosition);
  advance(state, sub, item);
}

/** Each item of a `results.recorded` as a result of its own, in order (`item`: its index, for resultRef). */
export function recordedBatch(state: DispatchState, r: RecordOf<'results.recorded'>): void {
  const { subscriberId, workerId, position, time, reportedBy } = r;
  const items = batchItems(r);
  for (let item = 0; item < items.length; item++) {
    const { eventPosition, attempt, status, retryAt } = items[item] as (typeof items)[number];
    // A literal, no conditional spread: this runs for every result in every process.
    const view = {
      subscriberId,
      workerId,
      position,
      time,
      item,
      eventPosition,
      attempt,
      status,
      retryAt,
      reportedBy,
    };
    recorded(state, view);
  }
}

function skippable(item: WorkItem | undefined, time: number): item is WorkItem {
  return item !== undefined && !isFinished(item) && !isLeased(item, time);
}

function countResult(sub: SubscriberState, status: string): void {
  if (status === 'ok') sub.counts.done++;
  else if (status === 'skipped') sub.counts.skipped++;
  else sub.counts.failed++;
}

/**
 * Moves the finishedBelow over finished items, dropping them from the hot view; a redriven event below
 * it (`revived`) that finished again just leaves.
 */
function advance(state: DispatchState, sub: SubscriberState, finished: WorkItem): void {
  if (sub.revived.size > 0 && sub.revived.delete(finished.eventPosition)) {
    sub.items.delete(finished.eventPosition);
    return;
  }
  const q = state.queues.get(sub.reg.queue);
  if (!q) return;
  for (;;) {
    const position = q.positions[sub.finishedBelow - q.base];
    if (position === undefined) return;
    const item = sub.items.get(position);
    if (!item || !isFinished(item)) return;
    sub.items.delete(position);
    sub.finishedBelow++;
  }
}
