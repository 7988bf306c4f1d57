// A benchmark worker process: hosts one competing subscriber with a trivial handler and reports the
// publish → handler-start latencies (from a high-resolution send time in the payload) and its CPU time
// over IPC. argv: storeUrl (any store: file:…, redis://…) concurrency
import { createQueueManager } from '../index.js';

const [store = '', concurrency = '10'] = process.argv.slice(2);
const now = (): number => performance.timeOrigin + performance.now();
const latencies: number[] = [];
let handled = 0;

const manager = await createQueueManager({ store, handleSignals: false });
const q = manager.queue<{ sentAt: number }>('bench');
await q.subscribe(
  (event) => {
    latencies.push(now() - event.payload.sentAt);
    handled++;
  },
  {
    name: 'work',
    concurrency: Number(concurrency),
    from: 'earliest',
    ...(process.env.BENCH_PREFETCH === undefined ? {} : { prefetch: Number(process.env.BENCH_PREFETCH) }),
  },
);

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'report') {
    process.send?.({
      type: 'report',
      latencies: latencies.splice(0),
      handled,
      rss: process.memoryUsage().rss,
      heap: process.memoryUsage().heapUsed,
      cpu: cpuMs(),
    });
  } else if (msg.type === 'stop') {
    void manager.close().then(() => process.exit(0));
  }
});
process.send?.({ type: 'ready' });

/** CPU time (user + system) this process used so far, in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
