import { AbortedError, InterruptedError, TimeoutError } from '../errors.js';
import type { ErrorInfo, ResultStatus } from '../records.js';

/** Why an attempt's signal was aborted. */
export class LeaseLostError extends AbortedError {
  constructor() {
    super('the lease on this event was lost to another worker');
    this.name = 'LeaseLostError';
  }
}

/** Shutdown of this worker: the attempt is released, not failed. */
export class ShutdownError extends AbortedError {
  constructor() {
    super('the worker is shutting down');
    this.name = 'ShutdownError';
  }
}

export interface AttemptOutcome {
  readonly status: ResultStatus | 'released';
  readonly details?: unknown;
  readonly error?: unknown;
}

/**
 * Runs a handler under an AbortController: resolves when it settles, or as soon as the signal aborts
 * (timeout, interrupt, lease lost, shutdown) even if the handler ignores the signal.
 */
export async function runAttempt(
  handler: () => unknown,
  controller: AbortController,
  timeoutMs: number,
): Promise<AttemptOutcome> {
  const timer =
    timeoutMs > 0
      ? setTimeout(
          () => controller.abort(new TimeoutError(`handler timed out after ${timeoutMs} ms`, timeoutMs)),
          timeoutMs,
        )
      : undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (controller.signal.aborted) reject(controller.signal.reason as Error);
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), {
      once: true,
    });
  });
  aborted.catch(() => undefined);
  try {
    const details: unknown = await Promise.race([Promise.resolve().then(handler), aborted]);
    return { status: 'ok', details };
  } catch (error) {
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
    if (reason instanceof ShutdownError) return { status: 'released', error: reason };
    if (reason instanceof TimeoutError) return { status: 'timeout', error: reason };
    if (reason instanceof InterruptedError || reason instanceof LeaseLostError)
      return { status: 'failed', error: reason };
    return { status: 'failed', error };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
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
