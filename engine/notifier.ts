/**
 * Wakes waiters when something changed (a new record, a closed store). A waiter that registers after a
 * change waits for the next one, so callers check their condition first, then wait.
 */
export class Notifier {
  #waiters = new Set<() => void>();

  /** Resolves on the next {@link notify}, when `signal` aborts, or after `timeoutMs` (a polling fallback). */
  wait(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  get waiting(): number {
    return this.#waiters.size;
  }
}

/** Reads the flag afresh (a plain property read is narrowed away by the compiler across a yield). */
export function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
