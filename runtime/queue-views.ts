import { isFinished, isLeased, subscriberProgress, type SubscriberState } from '../projections/claims.js';
import { isAlive } from '../projections/workers.js';
import type { LogRuntime } from './log-runtime.js';

/** Open work items of the queue's subscribers (finished work has left the hot view). */
export function claimsView(rt: LogRuntime, queue: string) {
  const rows = [];
  for (const sub of subscribersOf(rt, queue)) {
    for (const item of sub.items.values()) {
      if (isFinished(item)) continue;
      rows.push({
        subscriber: sub.reg.name,
        eventPosition: item.eventPosition,
        status:
          item.status === 'claimed' && !isLeased(item, rt.claims.time) ? ('expired' as const) : item.status,
        attempt: item.attempt,
        owner: item.owner,
        leaseUntil: item.leaseUntil || undefined,
        availableAt: item.availableAt,
      });
    }
  }
  return rows;
}

/** Workers that host the queue (or did within the view's memory), with liveness by log time. */
export function workersView(rt: LogRuntime, queue: string) {
  const time = rt.workers.time;
  return [...rt.workers.workers.values()]
    .filter((w) => w.queues.includes(queue))
    .map((w) => ({ ...w, alive: isAlive(w, time) }));
}

/** The queue's registered subscribers with their progress. */
export function subscribersView(rt: LogRuntime, queue: string) {
  return subscribersOf(rt, queue).map((sub) => ({
    subscriberId: sub.id,
    name: sub.reg.name,
    queue,
    delivery: sub.reg.delivery,
    filter: sub.reg.filter,
    retry: sub.reg.retry,
    timeout: sub.reg.timeout,
    startPosition: sub.reg.startPosition,
    registeredAt: sub.registeredAt,
    ...progress(rt, sub),
  }));
}

/** Queue totals: depth, in-flight, done, failed, dead, throughput and lag per subscriber. */
export function statsView(rt: LogRuntime, queue: string) {
  const s = rt.stats.queues.get(queue);
  const q = rt.claims.queues.get(queue);
  const decay = s ? Math.exp(-Math.max(0, rt.claims.time - s.lastTime) / (5000 / Math.LN2)) : 0;
  return {
    queue,
    published: q?.positions.length ?? 0,
    results: s?.results ?? { ok: 0, failed: 0, timeout: 0, skipped: 0 },
    throughput: s ? s.throughput * decay : 0,
    subscribers: subscribersOf(rt, queue).map((sub) => ({ name: sub.reg.name, ...progress(rt, sub) })),
  };
}

function subscribersOf(rt: LogRuntime, queue: string): SubscriberState[] {
  return [...rt.claims.subscribers.values()].filter((s) => s.reg.queue === queue && !s.deleted);
}

function progress(rt: LogRuntime, sub: SubscriberState) {
  return { ...subscriberProgress(rt.claims, sub, rt.claims.time), ...sub.counts };
}
