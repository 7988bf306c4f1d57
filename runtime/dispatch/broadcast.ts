import {
  broadcastDone,
  indexOf,
  lowerBound,
  type QueueState,
  type SubscriberState,
} from '../../projections/dispatch/index.js';
import type { Position } from '../../engine/position.js';
import type { Candidate } from './competing-scan.js';

/**
 * Broadcast delivery: every event since the subscriber's start that this worker has not handled (its
 * final results in the log say which: a worker started again with the same id goes on where it was, a
 * new one handles them all), in order, without claims; retries run on this worker (no claim carries
 * them to another).
 *
 * Per event: AHEAD (past the cursor) → DELAYED (its availableAt is still to come) → DUE (handed to the
 * scan), or straight AHEAD → DUE; a failed attempt with a retry left → RETRYING (until its retryAt) →
 * DUE again. The cursor only moves forward (an absolute index into the queue's events, never below its
 * `base`; -1 before the first scan).
 */
export class BroadcastCursor {
  #next = -1;
  readonly #delayed = new Set<Position>();
  readonly #retrying = new Map<Position, { at: number; attempt: number }>();

  constructor(private readonly workerId: string) {}

  /** Index of the next event not yet looked at (-1 before the first scan). */
  get next(): number {
    return this.#next;
  }

  /** Attempts waiting to run again. */
  get retrying(): number {
    return this.#retrying.size;
  }

  /** A failed attempt → RETRYING: `attempt` runs here at `at`. */
  retry(p: Position, at: number, attempt: number): void {
    this.#retrying.set(p, { at, attempt });
  }

  /**
   * Up to `free` events DUE now: retries first, then delayed events, then new ones; `wake` is when the
   * next held one comes due (Infinity: none).
   */
  scan(
    sub: SubscriberState | undefined,
    q: QueueState,
    free: number,
    now: number,
    ending: Position,
  ): { candidates: Candidate[]; wake: number } {
    if (this.#next < 0) this.#next = indexOf(q, sub?.reg.startPosition ?? 0);
    // Events below the base were handled by every worker the fold knows of: one new since starts there.
    this.#next = Math.max(this.#next, q.base);
    const candidates: Candidate[] = [];
    let wake = Infinity;
    for (const [p, retry] of this.#retrying) {
      if (candidates.length >= free) break;
      if (retry.at <= now) {
        this.#retrying.delete(p);
        candidates.push({ position: p, attempt: retry.attempt });
      } else wake = Math.min(wake, retry.at);
    }
    for (const p of this.#delayed) {
      if (candidates.length >= free) break;
      const i = lowerBound(q.positions, p);
      const at = q.positions[i] === p ? (q.availableAt[i] as number) : now; // dropped: handled elsewhere
      if (at <= now) {
        this.#delayed.delete(p);
        candidates.push({ position: p, attempt: 1 });
      } else wake = Math.min(wake, at);
    }
    const { positions, availableAt, base } = q;
    while (candidates.length < free && this.#next - base < positions.length) {
      const p = positions[this.#next - base] as Position;
      if (p > ending) break;
      const at = availableAt[this.#next - base] as number;
      this.#next++;
      if (sub && broadcastDone(sub, q, this.workerId, p)) continue;
      if (at > now) {
        this.#delayed.add(p);
        wake = Math.min(wake, at);
      } else candidates.push({ position: p, attempt: 1 });
    }
    return { candidates, wake };
  }
}
