// ezq's typed events and @on_event handlers, on Eventy: an event is a payload with a `type`, a handler is
// registered per type, and one subscriber (the consumer) dispatches each event to its type's handlers.
import type { HandlerContext, Queue, QueueEvent } from 'eventy';

export type EzqEvent =
  | { readonly type: 'UserCreated'; readonly userId: number; readonly username: string }
  | { readonly type: 'Slow'; readonly ms: number }
  | { readonly type: 'CriticalError'; readonly reason: string };

type Handler<E> = (event: E, ctx: HandlerContext) => unknown;
const handlers = new Map<string, Handler<never>[]>();

/** ezq's `@on_event`: `fn` runs for every event of `type`. */
export function onEvent<K extends EzqEvent['type']>(
  type: K,
  fn: Handler<Extract<EzqEvent, { type: K }>>,
): void {
  handlers.set(type, [...(handlers.get(type) ?? []), fn]);
}

/** ezq's dispatcher: the handlers of the event's type, in turn; acknowledged once they all ran. */
async function dispatch(event: QueueEvent<EzqEvent>, ctx: HandlerContext): Promise<void> {
  for (const fn of handlers.get(event.payload.type) ?? [])
    await (fn as Handler<EzqEvent>)(event.payload, ctx);
}

/**
 * ezq's `await consumer()`: handles the queue's events from its start until an End (published before or
 * after it started) has drained, or `stop` aborts (it drains in-flight work); an Interrupt rejects.
 */
export async function consumer(queue: Queue<EzqEvent>, stop?: AbortSignal): Promise<void> {
  const sub = await queue.subscribe(dispatch, { name: 'consumer', from: 'earliest', concurrency: 4 });
  stop?.addEventListener('abort', () => void sub.stop(), { once: true });
  await sub.done;
}
