import type { HandlerContext, QueueEvent, SubscribeOptions } from './types.js';

/**
 * The class form of a subscriber: override `onEvent`. Options can be given as the `options` property
 * or at `queue.subscribe(instance, options)`; the name defaults to the class name.
 * @example
 * class Printer extends Subscriber<Order> {
 *   override async onEvent(event: QueueEvent<Order>) { console.log(event.payload); }
 * }
 * await queue.subscribe(new Printer(), { concurrency: 4 });
 */
export abstract class Subscriber<T = unknown> {
  /** Default options, overridden by those passed to `subscribe`. */
  readonly options: SubscribeOptions = {};

  abstract onEvent(event: QueueEvent<T>, ctx: HandlerContext): unknown;
}

/** A live subscription of this process. */
export interface Subscription {
  readonly subscriberId: string;
  readonly name: string;
  readonly queue: string;
  /** Deletes the subscriber from the log (every worker stops running it): true once, then false. */
  unsubscribe(): Promise<boolean>;
  /** Stops running the subscriber in this process (draining in-flight work), leaving it registered. */
  stop(): Promise<void>;
  /**
   * Settles once the subscription ended in this process: resolves when an end order (`queue.end()`,
   * published before or after it started, applied in log order) has drained, or after `stop()`;
   * rejects with an InterruptedError on `queue.interrupt()`. ezq's `await consumer()`.
   */
  readonly done: Promise<void>;
}
