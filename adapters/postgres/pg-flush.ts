import type { Position } from '../../engine/position.js';

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * Makes commits durable after the fact. The store's appends commit with `synchronous_commit` off, so a
 * statement holds the log's head row for its own work only, not through the WAL flush, and the next
 * appender (of any process) goes on meanwhile. What must not be acknowledged or delivered before it is
 * on disk then waits for a flush: a tiny transaction committed synchronously (it writes a logical message,
 * so its commit waits for the WAL to be flushed up to it — past every commit made before it started,
 * whichever session made it). One flush runs at a time; callers that arrive while it
 * runs share the next one, and the server merges concurrent flushes of all sessions.
 *
 * Each flush also reads the log's head in its own snapshot: every position below it is durable
 * ({@link durable}), so readers wait for a flush only for records newer than the last one.
 */
export class Flusher {
  #pending: Waiter[] = [];
  #running = false;
  #durable: Position = 0;

  /** @param run commits the flush transaction and returns the head its snapshot saw. */
  constructor(private readonly run: () => Promise<Position>) {}

  /** Every position below this one is known to be on disk. */
  get durable(): Position {
    return this.#durable;
  }

  /** Resolves once a flush that started after this call completed: what was committed before is on disk. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#running || this.#pending.length === 0) return;
    this.#running = true;
    const waiters = this.#pending.splice(0);
    this.run()
      .then(
        (head) => {
          if (head > this.#durable) this.#durable = head;
          for (const w of waiters) w.resolve();
        },
        (e: unknown) => {
          for (const w of waiters) w.reject(e);
        },
      )
      .finally(() => {
        this.#running = false;
        this.#kick();
      });
  }
}
