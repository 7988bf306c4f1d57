import type { HandlerContext, PublishOptions, QueueEvent } from '../types.js';
import type { DispatchContext, EventRecord } from './context.js';
import type { AttemptControl } from './run-attempt.js';

/**
 * The `ctx` a handler gets for one attempt. A class, not an object literal: a literal with a getter is
 * built in dictionary mode each time (about 1 µs and 750 bytes per event, against 20 ns here).
 * `publish` is an own property so that a destructured `publish` still works.
 */
export class AttemptContext implements HandlerContext {
  readonly publish: HandlerContext['publish'];
  readonly #control: AttemptControl;

  constructor(
    control: AttemptControl,
    readonly attempt: number,
    readonly workerId: string,
    readonly subscriber: string,
    ctx: DispatchContext,
    queue: string,
    e: EventRecord,
  ) {
    this.#control = control;
    this.publish = <U>(payload: U, options: PublishOptions & { queue?: string } = {}) => {
      const { queue: to = queue, ...rest } = options;
      const correlationId = e.headers.correlationId ?? e.eventId;
      return ctx.publish(to, payload, { correlationId, ...rest, causationId: e.eventId }) as Promise<
        QueueEvent<U>
      >;
    };
  }

  get signal(): AbortSignal {
    return this.#control.signal;
  }
}
