// Eventide's order-processing app as an Eventy handler module: handlers routed by JMESPath (and a
// predicate), retries for one kind of error with backoff, and the app's lifecycle hooks.
import { defineWorker, handler, type QueueEvent } from 'eventy';
import { messageHooks, say, TransientError, type OrderMessage } from './_shared.js';

const isPositive = (e: QueueEvent<OrderMessage>): boolean => (e.payload.amount ?? 0) > 0;

export default defineWorker({
  handlers: [
    // @app.handler("body.type == 'new_order'")
    handler<OrderMessage>(
      { queue: 'orders', from: 'earliest', filter: "payload.type == 'new_order'" },
      function processNewOrder(e) {
        say(`processNewOrder #${e.payload.n}`);
        return { billed: e.payload.n };
      },
    ),
    // @app.handler("body.type == 'payment_confirmed'", retry_limit=2, retry_for=[TransientError])
    handler<OrderMessage>(
      {
        queue: 'orders',
        from: 'earliest',
        filter: "payload.type == 'payment_confirmed'",
        retry: { limit: 2, minBackoff: 100, maxBackoff: 1000, retryOn: [TransientError] },
      },
      function processPayment(e, ctx) {
        if (!isPositive(e)) throw new RangeError(`payment #${e.payload.n} has no amount`); // not retried
        if (e.payload.flaky === true && ctx.attempt === 1) throw new TransientError('gateway busy');
        say(`processPayment #${e.payload.n} attempt ${ctx.attempt}`);
        return { paid: e.payload.amount };
      },
    ),
    // @app.handler("body.type == 'order_status_update'", "body.status == 'shipped'", operator=all)
    handler<OrderMessage>(
      {
        queue: 'orders',
        from: 'earliest',
        filter: ["payload.type == 'order_status_update'", "payload.status == 'shipped'"],
        operator: 'all',
      },
      function handleShippedOrder(e) {
        say(`handleShippedOrder #${e.payload.n}`);
      },
    ),
  ],
  hooks: {
    onStart: () => say('on_start orders'),
    ...messageHooks,
    onShutdown: () => say('on_shutdown orders'),
  },
});
