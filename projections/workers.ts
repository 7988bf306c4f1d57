import { isKnownRecord } from '../engine/records.js';
import type { Fold } from './fold.js';

export interface WorkerInfo {
  readonly workerId: string;
  host: string;
  pid: number;
  queues: readonly string[];
  subscribers: readonly string[];
  joinedAt: number;
  lastBeat: number;
  ttlMs: number;
  /** Set when the worker appended `worker.left`. */
  leftAt: number | undefined;
}

/** Workers by id, and the log time of the last record (the clock liveness is judged by). */
export interface WorkersState {
  readonly workers: Map<string, WorkerInfo>;
  time: number;
}

const LEFT_KEPT_MS = 60 * 60 * 1000;

export const workersFold: Fold<WorkersState> = {
  initial: () => ({ workers: new Map(), time: 0 }),
  evolve(state, r) {
    state.time = Math.max(state.time, r.time);
    if (!isKnownRecord(r)) return state;
    switch (r.type) {
      case 'worker.joined':
      case 'worker.heartbeat': {
        const w = state.workers.get(r.workerId);
        if (w) {
          Object.assign(w, { host: r.host, pid: r.pid, queues: r.queues, subscribers: r.subscribers });
          w.lastBeat = r.time;
          w.ttlMs = r.ttlMs;
        } else {
          state.workers.set(r.workerId, {
            workerId: r.workerId,
            host: r.host,
            pid: r.pid,
            queues: r.queues,
            subscribers: r.subscribers,
            joinedAt: r.time,
            lastBeat: r.time,
            ttlMs: r.ttlMs,
            leftAt: undefined,
          });
          prune(state); // workers that lapsed without a worker.left go too (a crash appends none)
        }
        return state;
      }
      case 'worker.left': {
        const w = state.workers.get(r.workerId);
        if (w) w.leftAt = r.time;
        prune(state);
        return state;
      }
      default:
        return state;
    }
  },
};

/** Alive at log time `time`: joined, not left, and beating within its TTL. */
export function isAlive(w: WorkerInfo, time: number): boolean {
  return w.leftAt === undefined && w.lastBeat + w.ttlMs > time;
}

/** Ids of the live workers hosting a subscriber, sorted (every process computes the same list). */
export function liveHosts(state: WorkersState, subscriberId: string, time = state.time): string[] {
  const ids: string[] = [];
  for (const w of state.workers.values()) {
    if (isAlive(w, time) && w.subscribers.includes(subscriberId)) ids.push(w.workerId);
  }
  return ids.sort();
}

/** Keeps the view bounded: workers gone for an hour (by log time) are dropped. */
function prune(state: WorkersState): void {
  for (const [id, w] of state.workers) {
    const gone = w.leftAt ?? (isAlive(w, state.time) ? undefined : w.lastBeat + w.ttlMs);
    if (gone !== undefined && state.time - gone > LEFT_KEPT_MS) state.workers.delete(id);
  }
}

/**
 * The oldest live worker at log time `time` (earliest `joinedAt`, then smallest id): the one that writes
 * snapshots. Every process computes the same one; when it dies or leaves, the next oldest takes over.
 */
export function oldestLiveWorker(state: WorkersState, time = state.time): string | undefined {
  let oldest: WorkerInfo | undefined;
  for (const w of state.workers.values()) {
    if (!isAlive(w, time)) continue;
    if (
      !oldest ||
      w.joinedAt < oldest.joinedAt ||
      (w.joinedAt === oldest.joinedAt && w.workerId < oldest.workerId)
    )
      oldest = w;
  }
  return oldest?.workerId;
}
