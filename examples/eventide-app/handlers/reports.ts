// A second module of the app: a slow handler under a timeout. Its first attempt outlives the timeout
// (the framework fails it with TimeoutError and aborts ctx.signal); the retry is quick.
import { defineWorker, handler, type QueueEvent } from 'eventy';
import { messageHooks, say, sleep, type OrderMessage } from './_shared.js';

export default defineWorker({
  handlers: [
    handler<OrderMessage>(
      {
        queue: 'orders',
        from: 'earliest',
        name: 'buildReport',
        filter: (e: QueueEvent<OrderMessage>) => e.payload.type === 'report',
        timeout: 500,
        retry: { limit: 1, minBackoff: 100 },
      },
      async (e, ctx) => {
        await sleep(ctx.attempt === 1 ? 5000 : 10, ctx.signal);
        if (ctx.signal.aborted) return; // the attempt already ended as a timeout
        say(`buildReport #${e.payload.n} attempt ${ctx.attempt}`);
        return { pages: 3 };
      },
    ),
  ],
  hooks: messageHooks,
});
