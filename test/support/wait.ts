/**
 * Waiting in tests: every wait has a deadline and names what it waited for, so a test that would hang
 * fails with a message instead.
 */

/**
 * Polls `check` every `intervalMs` until it returns a value other than `undefined` or `false`, and
 * resolves with that value; fails with "timed out waiting for <what>" after `timeoutMs`.
 */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what = 'condition',
  timeoutMs = 10_000,
  intervalMs = 5,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise and its resolver. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
