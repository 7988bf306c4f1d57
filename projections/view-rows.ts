import type { Position } from '../engine/position.js';
import type { Delivery, FilterSpec, RateLimit, RetryPolicy } from '../engine/records.js';
import {
  eventCount,
  isFinished,
  isLeased,
  rateFreeAt,
  subscriberProgress,
  type SubscriberState,
} from './dispatch/index.js';
import type { LogViews } from './replay.js';
import { throughputAt } from './stats.js';
import { isAlive } from './workers.js';

/** The views `eventy replay` and `eventy stats` print. */
export const VIEWS = ['claims', 'workers', 'subscribers', 'results', 'stats', 'events'] as const;
export type ViewName = (typeof VIEWS)[number];

/** One open work item: an event a competing subscriber has not finished. */
export interface ClaimRow {
  readonly queue: string;
  readonly subscriber: string;
  readonly eventPosition: Position;
  /** `pending` (never claimed), `claimed`, `expired` (lease ran out), `released`, `retry`. */
  readonly status: 'pending' | 'claimed' | 'expired' | 'released' | 'retry';
  readonly attempt: number;
  readonly owner: string | null;
  readonly leaseUntil: number | null;
  readonly availableAt: number;
}

export interface WorkerRow {
  readonly workerId: string;
  readonly host: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly queues: readonly string[];
  readonly subscribers: readonly string[];
  readonly joinedAt: number;
  readonly lastBeat: number;
  readonly leftAt: number | null;
}

export interface SubscriberRow {
  readonly subscriberId: string;
  readonly queue: string;
  readonly name: string;
  readonly delivery: Delivery;
  readonly filter: FilterSpec | undefined;
  readonly retry: RetryPolicy;
  /** Handler time limit (ms); 0 for none. */
  readonly timeout: number;
  /** The position the subscriber started from. */
  readonly startPosition: Position;
  /** Log time of its first registration (ms since the epoch). */
  readonly registeredAt: number;
  /** Position of its first registration. */
  readonly registeredPosition: Position;
  readonly deleted: boolean;
  /** Its rate limit, if any. */
  readonly rateLimit?: RateLimit;
  /** With a rate limit that is full now: the log time the next start may be granted. */
  readonly rateLimitedUntil?: number;
  /** Events waiting to be claimed. */
  readonly depth: number;
  /** Events under a live lease. */
  readonly inFlight: number;
  readonly done: number;
  readonly failed: number;
  readonly dead: number;
  readonly skipped: number;
  /** Results fenced off because their worker had lost the lease. */
  readonly rejected: number;
  /** Records between the oldest unfinished event and the last record folded. */
  readonly lag: number;
  /**
   * Positions of its dead events in the order they died: the latest {@link DEAD_POSITIONS_SHOWN} when
   * there are more (`dead` counts them all; `queue.deadEvents()` lists them all).
   */
  readonly deadPositions: readonly Position[];
}

/** A worker's live reservation of a competing subscriber's next events (`claim.reserved`). */
export interface ReservationRow {
  readonly queue: string;
  readonly subscriber: string;
  readonly workerId: string;
  /** Events still to bind to the worker. */
  readonly slots: number;
  /** Log time from which no event binds to it. */
  readonly expiresAt: number;
}

export interface StatsRow {
  readonly queue: string;
  readonly published: number;
  readonly ok: number;
  readonly failed: number;
  readonly timeout: number;
  readonly skipped: number;
  /** Results per second, decayed to `now`. */
  readonly throughput: number;
  readonly subscribers: readonly SubscriberRow[];
}

/** The most dead positions a subscriber row carries (the latest). */
export const DEAD_POSITIONS_SHOWN = 1000;

/** The last `n` of a set, in its order. */
function latest(set: ReadonlySet<Position>, n: number): Position[] {
  const all = [...set];
  return all.length > n ? all.slice(all.length - n) : all;
}

function wanted(queues: readonly string[]): (q: string) => boolean {
  return queues.length === 0 ? () => true : (q) => queues.includes(q);
}

function subscribers(v: LogViews, queues: readonly string[]): SubscriberState[] {
  const keep = wanted(queues);
  return [...v.dispatch.subscribers.values()].filter((s) => keep(s.reg.queue));
}

/** Open work items at log time `now` (default the views' time). */
export function claimRows(v: LogViews, queues: readonly string[] = [], now = v.time): ClaimRow[] {
  const rows: ClaimRow[] = [];
  for (const sub of subscribers(v, queues)) {
    if (sub.deleted || sub.reg.delivery !== 'competing') continue;
    for (const item of sub.items.values()) {
      if (isFinished(item)) continue;
      const status =
        item.status === 'claimed'
          ? isLeased(item, now)
            ? 'claimed'
            : 'expired'
          : item.status === 'released' && item.attempt === 0
            ? 'pending'
            : item.status === 'retry'
              ? 'retry'
              : 'released';
      rows.push({
        queue: sub.reg.queue,
        subscriber: sub.reg.name,
        eventPosition: item.eventPosition,
        status,
        attempt: item.attempt,
        owner: item.owner ?? null,
        leaseUntil: item.status === 'claimed' ? item.leaseUntil : null,
        availableAt: item.availableAt,
      });
    }
  }
  return rows.sort((a, b) => a.eventPosition - b.eventPosition || a.subscriber.localeCompare(b.subscriber));
}

/** Workers known to the view (those gone for an hour of log time are dropped by the fold). */
export function workerRows(v: LogViews, queues: readonly string[] = [], now = v.time): WorkerRow[] {
  const keep = wanted(queues);
  return [...v.workers.workers.values()]
    .filter((w) => queues.length === 0 || w.queues.some(keep))
    .map((w) => ({
      workerId: w.workerId,
      host: w.host,
      pid: w.pid,
      alive: isAlive(w, now),
      queues: w.queues,
      subscribers: w.subscribers,
      joinedAt: w.joinedAt,
      lastBeat: w.lastBeat,
      leftAt: w.leftAt ?? null,
    }))
    .sort((a, b) => a.joinedAt - b.joinedAt || a.workerId.localeCompare(b.workerId));
}

/** Every subscriber with its progress. */
export function subscriberRows(v: LogViews, queues: readonly string[] = [], now = v.time): SubscriberRow[] {
  return subscribers(v, queues).map((sub) => {
    const { depth, inFlight, lag } = subscriberProgress(v.dispatch, sub, now);
    return {
      subscriberId: sub.id,
      queue: sub.reg.queue,
      name: sub.reg.name,
      delivery: sub.reg.delivery,
      filter: sub.reg.filter,
      retry: sub.reg.retry,
      timeout: sub.reg.timeout,
      startPosition: sub.reg.startPosition,
      registeredAt: sub.registeredTime,
      registeredPosition: sub.registeredAt,
      deleted: sub.deleted,
      ...(sub.reg.rateLimit && { rateLimit: sub.reg.rateLimit }),
      ...rateWait(sub, now),
      depth,
      inFlight,
      ...sub.counts,
      lag,
      deadPositions: latest(sub.dead, DEAD_POSITIONS_SHOWN),
    };
  });
}

/** Per queue: events published, results by status, throughput decayed to `now`, and its subscribers. */
export function statsRows(v: LogViews, queues: readonly string[] = [], now = v.time): StatsRow[] {
  const keep = wanted(queues);
  const names = new Set([...v.dispatch.queues.keys(), ...v.stats.queues.keys()].filter(keep));
  const subs = subscriberRows(v, queues, now).filter((s) => !s.deleted);
  return [...names].sort().map((queue) => {
    const s = v.stats.queues.get(queue);
    return {
      queue,
      published: eventCount(v.dispatch.queues.get(queue)),
      ok: s?.results.ok ?? 0,
      failed: s?.results.failed ?? 0,
      timeout: s?.results.timeout ?? 0,
      skipped: s?.results.skipped ?? 0,
      throughput: s ? Math.round(throughputAt(s, now) * 10) / 10 : 0,
      subscribers: subs.filter((r) => r.queue === queue),
    };
  });
}

/** Live reservations at log time `now`, by subscriber and worker. */
export function reservationRows(v: LogViews, queues: readonly string[] = [], now = v.time): ReservationRow[] {
  const rows: ReservationRow[] = [];
  for (const sub of subscribers(v, queues)) {
    for (const [workerId, res] of sub.reservations) {
      if (res.expiresAt <= now) continue;
      rows.push({
        queue: sub.reg.queue,
        subscriber: sub.reg.name,
        workerId,
        slots: res.slots,
        expiresAt: res.expiresAt,
      });
    }
  }
  return rows;
}

function rateWait(sub: SubscriberState, now: number): { rateLimitedUntil?: number } {
  const at = rateFreeAt(sub, now);
  return at > now ? { rateLimitedUntil: at } : {};
}
