/**
 * Typed errors that callers can branch on: one base class with a string `code`, subclasses with typed
 * fields, and {@link isEventyError} as the guard.
 */
export const ERROR_CODES = [
  'invalid-argument',
  'not-found',
  'corrupt-record',
  'lock-unavailable',
  'closed',
  'conflict',
  'validation-failed',
  'timeout',
  'unavailable',
  'aborted',
  'interrupted',
  'log-diverged',
  'worker-crashed',
  'truncated',
] as const;

/** Every error code Eventy raises. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base class of every error Eventy raises on purpose. */
export class EventyError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = 'EventyError';
  }
}

/** A wrong argument, option, URL or value: the message names it and what was expected. */
export class InvalidArgumentError extends EventyError {
  declare readonly code: 'invalid-argument';
  constructor(message: string, options?: ErrorOptions) {
    super('invalid-argument', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** A record, event, claim or subscriber that does not exist. */
export class NotFoundError extends EventyError {
  declare readonly code: 'not-found';
  readonly what: string;
  readonly id: string;
  constructor(what: string, id: string) {
    super('not-found', `${what} not found: ${id}`);
    this.name = 'NotFoundError';
    this.what = what;
    this.id = id;
  }
}

/** A stored frame failed its length, CRC or CBOR check: names the segment and byte offset. */
export class CorruptRecordError extends EventyError {
  declare readonly code: 'corrupt-record';
  readonly segment: string;
  readonly offset: number;
  /** Position of the last good record before the corruption, when known. */
  readonly after: number | undefined;
  constructor(segment: string, offset: number, reason: string, after?: number, options?: ErrorOptions) {
    super(
      'corrupt-record',
      `corrupt record in segment ${segment} at byte offset ${offset}: ${reason}` +
        (after === undefined ? '' : ` (after position ${after})`),
      options,
    );
    this.name = 'CorruptRecordError';
    this.segment = segment;
    this.offset = offset;
    this.after = after;
  }
}

/**
 * A snapshot's bytes failed their checks (magic, format version, length, checksum, CBOR): a
 * `corrupt-record` error whose `segment` is the snapshot's ref. Start-up skips such a snapshot.
 */
export class CorruptSnapshotError extends CorruptRecordError {
  constructor(ref: string, offset: number, reason: string, options?: ErrorOptions) {
    super(ref, offset, reason, undefined, options);
    this.name = 'CorruptSnapshotError';
    this.message = `snapshot ${ref} is unusable (byte offset ${offset}): ${reason}`;
  }
}

/** A lock could not be taken in time. */
export class LockUnavailableError extends EventyError {
  declare readonly code: 'lock-unavailable';
  constructor(message: string, options?: ErrorOptions) {
    super('lock-unavailable', message, options);
    this.name = 'LockUnavailableError';
  }
}

/** The object was closed and cannot be used any more. */
export class ClosedError extends EventyError {
  declare readonly code: 'closed';
  constructor(what: string) {
    super('closed', `${what} is closed`);
    this.name = 'ClosedError';
  }
}

/** An optimistic check failed: the log head was not where the caller expected. */
export class ConflictError extends EventyError {
  declare readonly code: 'conflict';
  readonly expected: number;
  readonly actual: number;
  constructor(expected: number, actual: number) {
    super('conflict', `expected log head at position ${expected}, but it is at ${actual}`);
    this.name = 'ConflictError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** A payload failed its queue's schema. */
export class ValidationFailedError extends EventyError {
  declare readonly code: 'validation-failed';
  readonly issues: readonly { message: string; path?: readonly unknown[] | undefined }[];
  constructor(message: string, issues: ValidationFailedError['issues']) {
    super('validation-failed', message);
    this.name = 'ValidationFailedError';
    this.issues = issues;
  }
}

/** A handler or an operation ran past its time limit. */
export class TimeoutError extends EventyError {
  declare readonly code: 'timeout';
  readonly ms: number;
  constructor(message: string, ms: number) {
    super('timeout', message);
    this.name = 'TimeoutError';
    this.ms = ms;
  }
}

/** A backend (a Redis server, a file system) could not be reached; nothing was written. */
export class UnavailableError extends EventyError {
  declare readonly code: 'unavailable';
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', message, options);
    this.name = 'UnavailableError';
  }
}

/** An operation was aborted through its AbortSignal. */
export class AbortedError extends EventyError {
  declare readonly code: 'aborted';
  constructor(message = 'the operation was aborted', options?: ErrorOptions) {
    super('aborted', message, options);
    this.name = 'AbortedError';
  }
}

/** In-flight work stopped by `queue.interrupt()`. */
export class InterruptedError extends EventyError {
  declare readonly code: 'interrupted';
  constructor(message = 'interrupted', options?: ErrorOptions) {
    super('interrupted', message, options);
    this.name = 'InterruptedError';
  }
}

/** Why an attempt's signal was aborted: another worker holds the event's lease now. */
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

/**
 * An attempt ended because the worker process running it died (it crashed, was killed, or sent no
 * heartbeat for its liveness TTL): the `failed` result another worker records for it carries this
 * error (name `WorkerCrashedError`), and retry policies see it like any handler error
 * (`retryOn: ['WorkerCrashedError']`).
 */
export class WorkerCrashedError extends EventyError {
  declare readonly code: 'worker-crashed';
  /** The worker that died. */
  readonly workerId: string;
  constructor(workerId: string, how: string, options?: ErrorOptions) {
    super('worker-crashed', `the worker died (${how}): worker ${workerId}`, options);
    this.name = 'WorkerCrashedError';
    this.workerId = workerId;
  }
}

/**
 * The log is not the one this handle was reading or appending to: it was recreated (another identity),
 * rolled back (its head went below a position already seen), or rewritten (the record at a position
 * already delivered is not the one delivered). Nothing more is appended through the handle; a process
 * that folded the old log must start again from the log as it now is.
 */
export class LogDivergedError extends EventyError {
  declare readonly code: 'log-diverged';
  /** The log (store URL or directory). */
  readonly log: string;
  /** What the handle had seen. */
  readonly expected: string;
  /** What the log holds now. */
  readonly found: string;
  constructor(log: string, expected: string, found: string, options?: ErrorOptions) {
    super(
      'log-diverged',
      `log ${log} diverged from what this handle saw: expected ${expected}, found ${found}; ` +
        'nothing was appended: reopen the store to continue from the log as it now is',
      options,
    );
    this.name = 'LogDivergedError';
    this.log = log;
    this.expected = expected;
    this.found = found;
  }
}

/**
 * A read or follow asked for positions that retention removed: the log now starts at {@link first}.
 * Start again from there (or from the newest snapshot, which covers what was removed).
 */
export class TruncatedError extends EventyError {
  declare readonly code: 'truncated';
  /** The log (store URL or directory). */
  readonly log: string;
  /** The position asked for. */
  readonly requested: number;
  /** The first position the log still holds. */
  readonly first: number;
  constructor(log: string, requested: number, first: number, options?: ErrorOptions) {
    super(
      'truncated',
      `log ${log} no longer holds position ${requested}: retention removed the records before ${first}; ` +
        `read from ${first} on, or start from the newest snapshot`,
      options,
    );
    this.name = 'TruncatedError';
    this.log = log;
    this.requested = requested;
    this.first = first;
  }
}

/** The error class each code narrows to (see {@link isEventyError}). */
export interface EventyErrorByCode {
  'invalid-argument': InvalidArgumentError;
  'not-found': NotFoundError;
  'corrupt-record': CorruptRecordError;
  'lock-unavailable': LockUnavailableError;
  closed: ClosedError;
  conflict: ConflictError;
  'validation-failed': ValidationFailedError;
  timeout: TimeoutError;
  unavailable: UnavailableError;
  aborted: AbortedError;
  interrupted: InterruptedError;
  'log-diverged': LogDivergedError;
  'worker-crashed': WorkerCrashedError;
  truncated: TruncatedError;
}

/** Every error Eventy raises on purpose, discriminated on `code`. */
export type AnyEventyError = EventyErrorByCode[ErrorCode];

/**
 * True when `e` is an Eventy error, optionally of one code; narrows to that code's class, so its typed
 * fields are at hand.
 * @example if (isEventyError(err, 'not-found')) console.log(err.what, err.id);
 */
export function isEventyError<C extends ErrorCode>(e: unknown, code: C): e is EventyErrorByCode[C];
export function isEventyError(e: unknown): e is AnyEventyError;
export function isEventyError(e: unknown, code?: ErrorCode): boolean {
  return e instanceof EventyError && (code === undefined || e.code === code);
}

/** Throws {@link AbortedError} (with the signal's reason as cause) when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortedError(undefined, { cause: signal.reason });
}
