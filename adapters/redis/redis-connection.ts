import type { Redis, RedisOptions } from 'ioredis';
import { isEventyError, UnavailableError } from '../../engine/errors.js';

/** Reconnect delay: exponential from 50 ms, capped at 2 s, with jitter so clients do not stampede. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), 2000) + Math.floor(Math.random() * 100);
}

/**
 * How long ioredis lets a closing socket linger before destroying it. Our connections have nothing left
 * to flush when they close, and ioredis arms this timer even for a socket that is already gone (a
 * connection between reconnect attempts), where it would hold the process for the default 2 s.
 */
const CLOSE_AT_ONCE = { disconnectTimeout: 0 } as const;

/**
 * The command connection a store creates itself: a command fails at once while Redis is away instead
 * of waiting in a queue, and a command in flight when the connection drops is rejected, never sent
 * again (a resent append could land twice). ioredis keeps reconnecting in the background.
 */
export const COMMAND_OPTIONS: Partial<RedisOptions> = {
  ...CLOSE_AT_ONCE,
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: reconnectDelay,
};

/**
 * A follower's blocking connection: reads may wait for Redis to come back and be sent again (they are
 * idempotent: the same XREAD from the same id), so a follower resumes by itself after an outage. A
 * user's command or socket timeout shorter than the blocking read would only make it reconnect.
 */
export const FOLLOW_OPTIONS: Partial<RedisOptions> = {
  ...CLOSE_AT_ONCE,
  commandTimeout: undefined,
  socketTimeout: undefined,
  lazyConnect: false,
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  autoResendUnfulfilledCommands: true,
  retryStrategy: reconnectDelay,
};

/**
 * Does nothing: the `error` listener of our connections (errors reach the commands that fail; without a
 * listener ioredis prints them), and the rejection handler of a read abandoned with its connection.
 */
export function ignore(): void {
  /* nothing */
}

/** Listens to a connection's `error` events so ioredis does not print them (the store owns it). */
export function quiet(conn: Redis): Redis {
  conn.on('error', ignore);
  return conn;
}

/**
 * Closes a connection the store created and waits (at most a second) until its socket is gone. Never
 * hangs: ioredis emits no `end` for a connection that is between reconnect attempts, and has no socket
 * to wait for then.
 */
export async function release(conn: Redis): Promise<void> {
  if (conn.status === 'end') return;
  const hasSocket = conn.status === 'connecting' || conn.status === 'connect' || conn.status === 'ready';
  const ended = hasSocket ? new Promise<void>((resolve) => conn.once('end', resolve)) : undefined;
  conn.disconnect();
  if (ended !== undefined) await settleWithin(ended, 1000);
  // Let ioredis's zero-delay close timers (see CLOSE_AT_ONCE) run before reporting the connection gone.
  else await new Promise((resolve) => setTimeout(resolve, 0));
}

async function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

/** What {@link AbortWatch.until} resolves to when the signal wins. */
export const ABORTED: unique symbol = Symbol('aborted');

/**
 * Waits for promises or for `signal` to abort, whichever comes first, one wait at a time: one abort
 * listener for a whole loop instead of one added and removed per wait (a follower waits once per
 * XREAD). A later rejection of an abandoned promise is swallowed: the caller has moved on and closes
 * the connection it was waiting on.
 */
export class AbortWatch {
  #wake: (() => void) | undefined;

  constructor(readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.#wake?.(), { once: true });
  }

  until<T>(promise: Promise<T>): Promise<T | typeof ABORTED> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) resolve(ABORTED);
      else this.#wake = () => resolve(ABORTED);
      promise.then(
        (value) => {
          this.#wake = undefined;
          resolve(value);
        },
        (e: unknown) => {
          this.#wake = undefined;
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no timer behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

// Server replies that mean "not now" rather than "wrong": the server is loading, read-only after a
// failover, refusing writes, or busy with a script.
const TRANSIENT = /^(LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|BUSY|NOREPLICAS|MISCONF)\b/;

/** True when `e` says Redis could not be reached or cannot serve now (as opposed to a wrong command). */
export function isUnreachable(e: unknown): boolean {
  if (isEventyError(e)) return e.code === 'unavailable';
  return !(e instanceof Error && e.name === 'ReplyError' && !TRANSIENT.test(e.message));
}

/** Turns a connection failure into {@link UnavailableError}; other errors pass through. */
export function storeError(e: unknown, what: string, url: string): Error {
  if (!isUnreachable(e) || isEventyError(e)) return e instanceof Error ? e : new Error(String(e));
  const reason = e instanceof Error ? e.message : String(e);
  return new UnavailableError(`${what} failed: Redis at ${url} is unavailable (${reason})`, { cause: e });
}
