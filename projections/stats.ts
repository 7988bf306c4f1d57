import { batchItems, isKnownRecord, type ResultStatus } from '../engine/records.js';
import type { Fold } from './fold.js';

export interface QueueStats {
  published: number;
  results: { ok: number; failed: number; timeout: number; skipped: number };
  /** Results per second (by log time), smoothed over about ten seconds. */
  throughput: number;
  lastTime: number;
}

export interface StatsState {
  readonly queues: Map<string, QueueStats>;
}

/** Half-life of the throughput's smoothing, in log time. */
const HALF_LIFE_MS = 5000;
const TAU_MS = HALF_LIFE_MS / Math.LN2;

/** A queue's throughput (results per second) decayed from its last result to log time `now`. */
export function throughputAt(s: QueueStats, now: number): number {
  return s.throughput * Math.exp(-Math.max(0, now - s.lastTime) / TAU_MS);
}

export const statsFold: Fold<StatsState> = {
  initial: () => ({ queues: new Map() }),
  evolve(state, r) {
    if (!isKnownRecord(r)) return state;
    if (r.type === 'event.published') statsOf(state, r.queue).published++;
    else if (r.type === 'result.recorded') result(statsOf(state, r.queue), r.status, r.time);
    else if (r.type === 'results.recorded') {
      const s = statsOf(state, r.queue);
      for (const it of batchItems(r)) result(s, it.status, r.time);
    }
    return state;
  },
};

function result(s: QueueStats, status: ResultStatus, time: number): void {
  if (!Object.hasOwn(s.results, status)) return; // a status this release does not know
  s.results[status]++;
  // Exponentially decayed rate: each result adds 1/τ, and the sum decays with log time.
  s.throughput = throughputAt(s, time) + 1000 / TAU_MS;
  s.lastTime = time;
}

function statsOf(state: StatsState, queue: string): QueueStats {
  let s = state.queues.get(queue);
  if (!s) {
    s = { published: 0, results: { ok: 0, failed: 0, timeout: 0, skipped: 0 }, throughput: 0, lastTime: 0 };
    state.queues.set(queue, s);
  }
  return s;
}
