import { MAX_BATCH_ITEMS } from '../../engine/records.js';
import type { ResultItem } from './drafts.js';

/**
 * How long a result waits for a claim append to carry it (as Kafka's `linger.ms`): under load the next
 * claims follow within the turn; at a trickle the result rides the next event's claim, or goes alone.
 */
const RESULT_LINGER_MS = 5;

/**
 * Results linger for the next claim append to carry them: at a low rate each result would otherwise be a
 * record of its own that every process following the log wakes up for — one more socket write and read
 * per process and event. Those that finish together go as one record.
 *
 * States: EMPTY (no result waiting) → LINGERING (results waiting, the linger timer running) → EMPTY,
 * through {@link take} (a claim append carries them) or the flush (the timer ran out, {@link MAX_BATCH_ITEMS}
 * are waiting, or the dispatcher is stopping). Invariant: the timer runs exactly while results wait.
 */
/** Results remembered to drop a repeat (same event and attempt): a few seconds' worth at full speed. */
const REMEMBERED = 4096;

export class ResultBatch {
  #items: ResultItem[] = [];
  #timer: NodeJS.Timeout | undefined;
  /**
   * Recent results added: event position → attempt, in two generations of up to {@link REMEMBERED} (the
   * older dropped whole when the newer fills). Never a delete per result: a Map that deletes as it
   * inserts degrades (its deleted slots stay until it rehashes), and every event starts with a lookup.
   * A number key, not a "position:attempt" string: this runs once per event.
   */
  #recent = new Map<number, number>();
  #older = new Map<number, number>();

  constructor(
    private readonly stopping: () => boolean,
    /** Appends results taken out of the batch (never empty). */
    private readonly flush: (items: ResultItem[]) => void,
  ) {}

  /** True while results wait for an append (LINGERING). */
  get lingering(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * A new run of the event's attempt `attempt` starts (a redriven event starts over at attempt 1): its
   * result is a new verdict, not a repeat of the earlier run's.
   */
  forget(eventPosition: number, attempt: number): void {
    if (this.#recent.get(eventPosition) === attempt) this.#recent.delete(eventPosition);
    if (this.#older.get(eventPosition) === attempt) this.#older.delete(eventPosition);
  }

  /** EMPTY → LINGERING (the first result starts the clock), or a flush when full or stopping. */
  add(result: ResultItem): void {
    // At most one result per event and attempt from this worker: two paths may reach the same verdict
    // (a skip by the filter for a bound event and for a claimed one), and the fold would take only one.
    // (Of an event's attempts the latest is remembered: a repeat comes right after the first verdict.)
    const p = result.eventPosition;
    const attempt = this.#recent.get(p) ?? this.#older.get(p);
    if (attempt === result.attempt) return;
    if (attempt !== undefined) this.#older.delete(p); // an earlier attempt's: the newer generation has this one
    this.#recent.set(p, result.attempt);
    if (this.#recent.size >= REMEMBERED) {
      this.#older = this.#recent;
      this.#recent = new Map();
    }
    this.#items.push(result);
    this.#linger();
  }

  /**
   * EMPTY or LINGERING → LINGERING: results {@link take}n for an append that failed wait for the next
   * one. Not through {@link add}: they are remembered already, and would be dropped as repeats.
   */
  putBack(results: readonly ResultItem[]): void {
    if (results.length === 0) return;
    this.#items.unshift(...results);
    this.#linger();
  }

  /** Results wait: flushed now when full or stopping, else the linger timer runs (started once). */
  #linger(): void {
    if (this.#items.length >= MAX_BATCH_ITEMS || this.stopping()) this.flushNow();
    else this.#timer ??= setTimeout(() => this.flushNow(), RESULT_LINGER_MS);
  }

  /** LINGERING → EMPTY: the results, for an append about to go (they are no longer lingering). */
  take(): ResultItem[] {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const taken = this.#items;
    this.#items = [];
    return taken;
  }

  /** LINGERING → EMPTY: appends the results now. */
  flushNow(): void {
    const taken = this.take();
    if (taken.length > 0) this.flush(taken);
  }
}
