import { ShutdownError, TimeoutError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import type { ErrorInfo, ResultStatus } from '../../engine/records.js';
import { Skip } from '../skip.js';
import type { HandlerContext, QueueEvent } from '../types.js';
import type { EventRecord } from './context.js';

export interface AttemptOutcome {
  readonly status: ResultStatus | 'released';
  readonly details?: unknown;
  readonly error?: unknown;
  /** The handler's Skip, when it skipped. */
  readonly skip?: Skip;
}

/** What an attempt under way is told when it is aborted (its {@link AttemptRun}). */
interface AbortListener {
  aborted(reason: Error): void;
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
  /** Told once on abort (the attempt under way stops waiting for its handler). */
  run: AbortListener | undefined;

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
    this.run?.aborted(reason);
  }
}

/** What an attempt reports its end to, once, with the outcome. */
export interface AttemptOwner {
  finished(run: AttemptRun, outcome: AttemptOutcome): void;
}

/** A handler that returned nothing: the outcome most attempts end in, one object for all. */
const OK: AttemptOutcome = Object.freeze({ status: 'ok', details: undefined });

/**
 * One attempt under way: the event, its claim, and the run of its handler. {@link start} runs the
 * handler in a microtask (a synchronous throw is a failure like any other) and tells the owner once:
 * when the handler settles, or as soon as the attempt is aborted (timeout, interrupt, lease lost,
 * shutdown) even if the handler ignores its signal. One object with methods, not a promise and a
 * handful of closures: this runs once per event, and every promise, await and closure on the way costs.
 */
export class AttemptRun {
  #settled = false;
  #timer: NodeJS.Timeout | undefined;
  /** When the handler was started (performance.now()). */
  started = 0;

  constructor(
    private readonly owner: AttemptOwner,
    readonly control: AttemptControl,
    readonly record: EventRecord,
    readonly attempt: number,
    /** The claim's position (the fencing token); -1 for broadcast. */
    readonly claimPosition: Position,
    readonly failures: number,
    readonly event: QueueEvent,
    readonly ctx: HandlerContext,
    private readonly handler: (event: QueueEvent, ctx: HandlerContext) => unknown,
  ) {}

  get eventId(): string {
    return this.record.eventId;
  }

  start(timeoutMs: number): void {
    this.started = performance.now();
    const control = this.control;
    if (timeoutMs > 0) {
      this.#timer = setTimeout(
        () => control.abort(new TimeoutError(`handler timed out after ${timeoutMs} ms`, timeoutMs)),
        timeoutMs,
      );
    }
    control.run = this;
    if (control.aborted) this.aborted(control.reason as Error);
    else runSoon(this);
  }

  /** The handler, in the microtask {@link start} queued. */
  go(): void {
    if (this.#settled) return;
    try {
      const result = this.handler(this.event, this.ctx);
      if (isThenable(result)) {
        result.then(
          (details) => this.#ok(details),
          (error: unknown) => this.#fail(error),
        );
      } else this.#ok(result);
    } catch (error) {
      this.#fail(error); // a synchronous throw, or a `then` that throws
    }
  }

  aborted(reason: Error): void {
    this.#settle(abortOutcome(reason));
  }

  #ok(details: unknown): void {
    if (details instanceof Skip) this.#settle(skipped(details));
    else this.#settle(details === undefined ? OK : { status: 'ok', details });
  }

  #fail(error: unknown): void {
    this.#settle(error instanceof Skip ? skipped(error) : { status: 'failed', error });
  }

  #settle(outcome: AttemptOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.control.run = undefined;
    this.owner.finished(this, outcome);
  }
}

/**
 * Attempts started in this turn, run together in one microtask (in start order, as one microtask each
 * would run them): no closure per attempt to queue it.
 */
let soon: AttemptRun[] = [];

function runSoon(run: AttemptRun): void {
  soon.push(run);
  if (soon.length === 1) queueMicrotask(runQueued);
}

function runQueued(): void {
  const runs = soon;
  soon = []; // attempts started by these handlers' ends go in the next microtask
  for (const run of runs) {
    try {
      run.go();
    } catch (e) {
      // A throw past the attempt (its end's bookkeeping failed) stays an uncaught error, as it was in a
      // microtask of its own, without keeping the attempts queued after it from starting.
      queueMicrotask(() => {
        throw e;
      });
    }
  }
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
