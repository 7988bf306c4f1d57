/**
 * How many events a competing worker claims ahead of its free slots when `prefetch` is not given: what
 * it runs in two claim trips at the rate it has been running events, at least `concurrency` (the
 * smallest it ever takes), at most {@link MAX_AHEAD} or `concurrency` if larger.
 *
 * One claim append is under way at a time, so between two claims a worker runs what it holds. With
 * quick handlers a fixed window empties before the next claim is back (Little's law: the window must
 * hold the rate times the trip) and the worker waits idle; with slow handlers the trip is nothing next
 * to a handler and the window stays at `concurrency`, so a slow worker does not sit on events another
 * could take (a claimed event is not open to others until its lease ends). Kafka's fetch sizes and
 * RabbitMQ's prefetch counts answer the same question with a number the user tunes; this one follows
 * the worker's own figures. It follows them late: when quick events give way to slow ones, the first
 * claims after the change still take the quick rate's window (up to {@link MAX_AHEAD} of the worker's
 * share, which it then runs at the slow rate while extending their leases); set `prefetch` where a
 * queue mixes both and that matters.
 */
export class ClaimAhead {
  /** Attempts started per ms, smoothed. */
  #rate = 0;
  /** Ms from a claim step's start to its claims folded, smoothed. */
  #trip = 0;
  #sampledAt = -1;
  #sampledStarts = 0;

  constructor(
    private readonly min: number,
    private readonly max = Math.max(min, MAX_AHEAD),
  ) {}

  /** A claim step took `ms` (its events read, its append, its claims folded). */
  tripped(ms: number): void {
    this.#trip = this.#trip === 0 ? ms : this.#trip + (ms - this.#trip) * SMOOTHING;
  }

  /** `starts` attempts have started so far, at `now` (ms): sampled at most every {@link SAMPLE_MS}. */
  started(starts: number, now: number): void {
    if (this.#sampledAt < 0) {
      this.#sampledAt = now;
      this.#sampledStarts = starts;
      return;
    }
    const elapsed = now - this.#sampledAt;
    if (elapsed < SAMPLE_MS) return;
    // A long pause (no work) counts as a rate of 0, not as the few starts spread over it: the smoothed
    // rate falls towards 0 and the window towards `concurrency`.
    const rate = elapsed > IDLE_MS ? 0 : (starts - this.#sampledStarts) / elapsed;
    this.#rate = this.#rate + (rate - this.#rate) * SMOOTHING;
    this.#sampledAt = now;
    this.#sampledStarts = starts;
  }

  /** Events to claim ahead of the free slots now. */
  get prefetch(): number {
    const wanted = Math.ceil(2 * this.#rate * this.#trip);
    return Math.min(this.max, Math.max(this.min, wanted));
  }
}

/** The most claimed ahead by default: a held event's lease is extended with every heartbeat. */
export const MAX_AHEAD = 256;
const SMOOTHING = 0.25;
const SAMPLE_MS = 5;
const IDLE_MS = 1_000;
