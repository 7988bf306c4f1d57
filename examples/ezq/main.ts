// ezq's README flows on Eventy: End (publish work and an End, then start the consumer, which returns once
// the work before the End is done), Interrupt (in-flight handlers aborted, the consumer fails at once),
// and a stop signal set by a handler (the consumer drains and returns).
// Run: npm run example:ezq   (store: EVENTY_STORE, default memory:)
import { createQueueManager, InterruptedError } from 'eventy';
import { consumer, onEvent, type EzqEvent } from './events.js';

await using manager = await createQueueManager({
  store: process.env.EVENTY_STORE ?? 'memory:',
  handleSignals: false,
});
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

onEvent('UserCreated', (e) => console.log(`New user ${e.username} created!`));

// 1. End: ezq's own pattern — publish the work and an End, then run the consumer until it returns.
const users = manager.queue<EzqEvent>('users');
for (const [userId, username] of ['ada', 'grace', 'linus'].entries())
  await users.publish({ type: 'UserCreated', userId, username });
await users.end({ wait: false }); // EZQEndEvent: handled in order, after the events before it
await users.publish({ type: 'UserCreated', userId: 9, username: 'late' }); // after the End: not for this run
await consumer(users);
console.log('Exiting main... (End)');

// 2. Interrupt: stops at once; running handlers see their signal aborted and fail.
const slow = manager.queue<EzqEvent>('slow');
let running = 0;
onEvent('Slow', async (e, ctx) => {
  running++;
  await sleep(e.ms, ctx.signal);
  if (ctx.signal.aborted) {
    console.log('Slow handler aborted');
    throw ctx.signal.reason;
  }
});
// Its outcome, caught at once: the rejection may come before the interrupt() call below returns.
const interrupted = consumer(slow).then(
  () => 'returned',
  (e: unknown) => (e instanceof InterruptedError ? 'InterruptedError' : String(e)),
);
await slow.publishMany([
  { type: 'Slow', ms: 10_000 },
  { type: 'Slow', ms: 10_000 },
]);
while (running < 2) await sleep(20);
await slow.interrupt(); // EZQInterruptEvent
console.log(`Consumer interrupted: ${await interrupted}`);

// 3. A stop signal set by a handler (ezq's stop_event): the consumer drains and returns.
const alerts = manager.queue<EzqEvent>('alerts');
const stop = new AbortController();
onEvent('CriticalError', (e) => {
  console.log(`Critical error: ${e.reason}`);
  stop.abort();
});
await alerts.publish({ type: 'CriticalError', reason: 'disk full' });
await consumer(alerts, stop.signal);
console.log('Consumer stopped');
