import { ShutdownError, TimeoutError } from '../../engine/errors.js';
import type { ErrorInfo, ResultStatus } from '../../engine/records.js';
import { Skip } from '../skip.js';

export interface AttemptOutcome {
  readonly status: ResultStatus | 'released';
  readonly details?: unknown;
  readonly error?: unknown;
  /** The handler's Skip, when it skipped. */
  readonly skip?: Skip;
}

/**
 * Aborts one attempt (timeout, interrupt, lease lost, shutdown). The handler's AbortSignal is made only
 * when the handler reads it: most handlers never do, and an AbortController per event is a good part
 * of a busy worker's cost.
 */
export class AttemptControl {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: Error | undefined;
  /** Called once on abort (the attempt under way stops waiting for its handler). */
  onAbort: ((reason: Error) => void) | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): Error | undefined {
    return this.#reason;
  }

  /** The handler's `ctx.signal`: aborted with the same reason as the attempt. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.onAbort?.(reason);
  }
}

/**
 * Runs a handler in a microtask (a synchronous throw is a failure like any other) and calls `done` once:
 * when the handler settles, or as soon as the attempt is aborted (timeout, interrupt, lease lost,
 * shutdown) even if the handler ignores its signal. A callback, not a promise: this runs once per
 * event, and every promise and await on the way costs.
 */
export function runAttempt(
  handler: () => unknown,
  control: AttemptControl,
  timeoutMs: number,
  done: (outcome: AttemptOutcome) => void,
): void {
  let settled = false;
  const timer =
    timeoutMs > 0
      ? setTimeout(
          () => control.abort(new TimeoutError(`handler timed out after ${timeoutMs} ms`, timeoutMs)),
          timeoutMs,
        )
      : undefined;
  const settle = (outcome: AttemptOutcome): void => {
    if (settled) return;
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
    control.onAbort = undefined;
    done(outcome);
  };
  const fail = (error: unknown): void =>
    settle(error instanceof Skip ? skipped(error) : { status: 'failed', error });
  const ok = (details: unknown): void =>
    settle(details instanceof Skip ? skipped(details) : { status: 'ok', details });
  control.onAbort = (reason) => settle(abortOutcome(reason));
  if (control.aborted) {
    settle(abortOutcome(control.reason as Error));
    return;
  }
  queueMicrotask(() => {
    if (settled) return;
    try {
      const result = handler();
      if (isThenable(result)) result.then(ok, fail);
      else ok(result);
    } catch (error) {
      fail(error); // a synchronous throw, or a `then` that throws
    }
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A handler's {@link Skip}: `skipped`, the reason in the result's details, the Skip for the hooks. */
function skipped(s: Skip): AttemptOutcome {
  return { status: 'skipped', details: { reason: s.reason }, skip: s };
}

/** What an aborted attempt ends in. */
function abortOutcome(reason: Error): AttemptOutcome {
  if (reason instanceof ShutdownError) return { status: 'released', error: reason };
  if (reason instanceof TimeoutError) return { status: 'timeout', error: reason };
  return { status: 'failed', error: reason }; // interrupted, lease lost
}

/** An error as a result record carries it. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
    };
  }
  return { name: 'Error', message: String(error) };
}

/** Handler return values as a record can carry them (plain JSON-like data). */
export function plainDetails(details: unknown): unknown {
  if (details === undefined || details === null) return undefined;
  if (typeof details !== 'object') return typeof details === 'function' ? undefined : details;
  try {
    return JSON.parse(JSON.stringify(details)) as unknown;
  } catch {
    return '[details that are not JSON data]';
  }
}
