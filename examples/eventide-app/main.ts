// Eventide's order-processing example on Eventy: run the handler modules of ./handlers in 3 worker
// processes with `eventy run`, publish the orders and an End (the workers exit once it has drained), then
// summarise each handler's results from the log.
// Run: npm run example:eventide-app   (store: EVENTY_STORE, default file:.eventy-eventide; it must be a
// store the processes share: file:, redis:// or postgres://)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createQueueManager, type QueueEvent } from 'eventy';
import type { OrderMessage } from './handlers/_shared.js';

const store = process.env.EVENTY_STORE ?? 'file:.eventy-eventide';
const HANDLERS = ['processNewOrder', 'processPayment', 'handleShippedOrder', 'buildReport'];

const messages: Omit<OrderMessage, 'n'>[] = [
  { type: 'new_order' },
  { type: 'new_order' },
  { type: 'new_order' },
  { type: 'new_order' },
  { type: 'payment_confirmed', amount: 120, flaky: true },
  { type: 'payment_confirmed', amount: 80, flaky: true },
  { type: 'payment_confirmed', amount: 15 },
  { type: 'payment_confirmed', amount: 0 },
  { type: 'order_status_update', status: 'shipped' },
  { type: 'order_status_update', status: 'shipped' },
  { type: 'order_status_update', status: 'packed' },
  { type: 'report' },
];

// 1. `eventy run ./handlers --processes 3` (in a project of your own: npx eventy run …, under tsx for
// .ts modules); its status lines go to stderr, the handlers' and hooks' lines to stdout.
const cli = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const handlers = fileURLToPath(new URL('./handlers', import.meta.url));
const run = spawn(process.execPath, ['--import', 'tsx', cli, 'run', handlers, '--processes', '3'], {
  stdio: ['ignore', 'inherit', 'pipe'],
  env: { ...process.env, EVENTY_STORE: store },
});
const exited = new Promise<number | null>((resolve) => run.once('exit', resolve));
let ready = 0;
const allReady = new Promise<void>((resolve, reject) => {
  run.stderr.setEncoding('utf8');
  run.stderr.on('data', (chunk: string) => {
    process.stderr.write(chunk);
    ready += chunk.split('\n').filter((line) => / ready \(pid/.test(line)).length;
    if (ready === 3) resolve();
  });
  void exited.then(() => reject(new Error('eventy run exited before its workers were ready')));
});
await allReady;

// 2. Publish the work, then an End: the workers finish everything before it, and exit.
let events: QueueEvent<OrderMessage>[];
{
  await using manager = await createQueueManager({ store, handleSignals: false });
  const orders = manager.queue<OrderMessage>('orders');
  events = await orders.publishMany(messages.map((m, i) => ({ ...m, n: i + 1 })));
  await orders.end({ wait: false });
  console.log(`published ${events.length} orders and an End`);
}
const code = await exited;
if (code !== 0) throw new Error(`eventy run exited with ${String(code)}`);

// 3. Each handler's outcome for this run's orders, from the log.
{
  await using manager = await createQueueManager({ store, handleSignals: false });
  const orders = manager.queue<OrderMessage>('orders');
  for (const name of HANDLERS) {
    // Per event the handler took: its attempts' statuses in order (failed→ok: retried, then done).
    const taken: string[] = [];
    let skipped = 0;
    for (const e of events) {
      const mine = (await orders.getResults(e.id)).filter((r) => r.subscriber === name);
      if (mine.length === 1 && mine[0]?.status === 'skipped') skipped++;
      else taken.push(`#${e.payload.n} ${mine.map((r) => r.status).join('→')}`);
    }
    console.log(`summary ${name}: ${taken.join(', ')} (skipped ${skipped})`);
  }
}
