/**
 * Worker liveness, as far as leases go: a claim ends when its worker dies, not only when its lease runs
 * out. Folds `worker.joined`, `worker.heartbeat` and `worker.left` into `DispatchState.workers`.
 *
 * A worker is dead at log time `t` when it left (`worker.left`, its own on shutdown or one appended for
 * it by the process that saw it die) or when it sent no `worker.*` record for its liveness TTL
 * (`until <= t`). A worker heard from again after that is alive again, but the claims it held before
 * (claim position below `revivedAt`) stay dead: they ended when it lapsed, whatever it does later.
 * Everything is judged by log time, so a replay reaches the same verdicts.
 *
 * A claim held by a dead worker takes no extension and no result from it; the event's attempt ends in
 * the first `failed` result another worker reports for it (`reportedBy`, see work-items.ts).
 *
 * Invariants: `until` only grows; `revivedAt` only grows; a worker without an entry (claims folded from
 * logs older than this rule, or pruned) is judged by its leases alone; a pruned worker has no broadcast
 * progress either.
 * @module
 */
import type { RecordOf } from '../../engine/records.js';
import type { Death, DispatchState, WorkerLife, WorkItem } from './state.js';

/** Workers dead longer than this (log time) are dropped: their leases have long run out too. */
const DEAD_KEPT_MS = 60 * 60 * 1000;
/** How often (log time) dead workers are looked for, at most. */
const PRUNE_EVERY_MS = 60 * 1000;

/** `worker.joined` / `worker.heartbeat`: alive for `ttlMs` more; alive again after a lapse or a leave. */
export function workerBeat(
  state: DispatchState,
  r: RecordOf<'worker.joined'> | RecordOf<'worker.heartbeat'>,
): void {
  const ttlMs = Number.isFinite(r.ttlMs) && r.ttlMs > 0 ? r.ttlMs : 0;
  const life = state.workers.get(r.workerId);
  if (life === undefined) {
    const fresh: WorkerLife = {
      until: r.time + ttlMs,
      ttlMs,
      revivedAt: -1,
      left: undefined,
      lapse: undefined,
    };
    state.workers.set(r.workerId, fresh);
    prune(state, r.time);
    return;
  }
  const death = deathAt(life, r.time);
  if (death !== undefined) {
    life.lapse = death;
    life.revivedAt = r.position;
    life.left = undefined;
  }
  life.until = Math.max(life.until, r.time + ttlMs);
  life.ttlMs = ttlMs;
}

/** `worker.left`: dead from now on; the first leave of a life is kept (with how it ended). */
export function workerGone(state: DispatchState, r: RecordOf<'worker.left'>): void {
  const how =
    typeof r.detail === 'string'
      ? r.detail
      : r.reason === 'crashed'
        ? 'it crashed'
        : 'it left without giving the event back';
  const life = state.workers.get(r.workerId);
  if (life === undefined) {
    state.workers.set(r.workerId, {
      until: r.time,
      ttlMs: 0,
      revivedAt: -1,
      left: { at: r.time, how },
      lapse: undefined,
    });
  } else life.left ??= { at: r.time, how };
}

/**
 * True when the worker is dead at log time `time` (left, or no beat for its TTL) and has not been heard
 * from since: a claim it appended now would end at once. Unknown workers are not dead.
 */
export function workerDead(state: DispatchState, workerId: string, time: number): boolean {
  const life = state.workers.get(workerId);
  return life !== undefined && deathAt(life, time) !== undefined;
}

/** True when the worker holding the item's claim is dead at log time `time` (see the module's rule). */
export function ownerDead(state: DispatchState, item: WorkItem, time: number): boolean {
  return deathOf(state, item, time) !== undefined;
}

/**
 * How and when the worker holding the item's claim died, if it is dead at `time` for that claim: the
 * log time from which it counts as dead and a few words on how (`exited with code 3`, `no heartbeat
 * for 6000 ms`).
 */
export function deathOf(state: DispatchState, item: WorkItem, time: number): Death | undefined {
  if (item.owner === undefined || item.claimPosition === undefined) return undefined;
  const life = state.workers.get(item.owner);
  if (life === undefined) return undefined;
  return deathAt(life, time) ?? (item.claimPosition < life.revivedAt ? life.lapse : undefined);
}

/** The worker's current death at `time`, if it is dead now: left, or lapsed (whichever came first). */
function deathAt(life: WorkerLife, time: number): Death | undefined {
  if (life.left !== undefined && life.left.at <= life.until) return life.left;
  if (life.until <= time) return { at: life.until, how: `no heartbeat for ${life.ttlMs} ms` };
  return life.left;
}

/**
 * Keeps the map bounded: workers dead for an hour (log time) are dropped, checked once a minute, with
 * what they handled of broadcast subscribers (their progress would hold the queue's events from where
 * they stopped forever, and every restart makes a new worker id): one that comes back with the same id
 * after that starts as a new worker, from the oldest event its queue still holds.
 */
function prune(state: DispatchState, time: number): void {
  if (time - state.workersPrunedAt < PRUNE_EVERY_MS) return;
  state.workersPrunedAt = time;
  for (const [id, life] of state.workers) {
    const gone = Math.min(life.left?.at ?? Infinity, life.until);
    if (time - gone <= DEAD_KEPT_MS) continue;
    state.workers.delete(id);
    for (const sub of state.subscribers.values()) if (sub.broadcast.size > 0) sub.broadcast.delete(id);
  }
}
