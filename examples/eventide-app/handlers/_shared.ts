// What the handler modules share (a name starting with `_`: `eventy run` does not load it as a module).
import type { Hooks } from 'eventy';

/** The messages of the `orders` queue, routed by `type` like Eventide's `body.type`. */
export interface OrderMessage {
  readonly n: number;
  readonly type: 'new_order' | 'payment_confirmed' | 'order_status_update' | 'report';
  readonly status?: string;
  readonly amount?: number;
  /** The payment gateway fails the first attempt of this one. */
  readonly flaky?: boolean;
}

/** A failure worth retrying (Eventide's `retry_for`). */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

/** One line per call, from whichever worker process runs it. */
export function say(line: string): void {
  console.log(`[${process.pid}] ${line}`);
}

/** The per-message hooks both modules log with (Eventide's on_message_received / _success / _failure). */
export const messageHooks: Pick<Hooks<OrderMessage>, 'onReceived' | 'onSuccess' | 'onFailure'> = {
  onReceived: (e, ctx) => say(`received ${ctx.subscriber} #${e.payload.n} attempt ${ctx.attempt}`),
  onSuccess: (e, _result, ctx) => say(`success ${ctx.subscriber} #${e.payload.n} attempt ${ctx.attempt}`),
  onFailure: (e, error, ctx) =>
    say(`failure ${ctx.subscriber} #${e.payload.n} attempt ${ctx.attempt} ${(error as Error).name}`),
};

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
