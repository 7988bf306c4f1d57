/**
 * Wakes waiters when something changed (a new record, a closed store). A waiter that registers after a
 * change waits for the next one, so callers check their condition first, then wait.
 */
export class Notifier {
  #waiters = new Set<() => void>();
  /**
   * The waiters of each signal, woken by one abort listener per signal: a follower waits again and
   * again on the same signal, and adding and removing an EventTarget listener per wait costs more than
   * the wait.
   */
  readonly #bySignal = new WeakMap<AbortSignal, Set<() => void>>();

  /** Resolves on the next {@link notify}, when `signal` aborts, or after `timeoutMs` (a polling fallback). */
  wait(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const onSignal = signal === undefined ? undefined : this.#waitersOf(signal);
      const done = (): void => {
        this.#waiters.delete(done);
        onSignal?.delete(done);
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.#waiters.add(done);
      onSignal?.add(done);
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  #waitersOf(signal: AbortSignal): Set<() => void> {
    let waiters = this.#bySignal.get(signal);
    if (waiters === undefined) {
      const set = new Set<() => void>();
      signal.addEventListener(
        'abort',
        () => {
          for (const done of [...set]) done();
        },
        { once: true },
      );
      this.#bySignal.set(signal, set);
      waiters = set;
    }
    return waiters;
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
