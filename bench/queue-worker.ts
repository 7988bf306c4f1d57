// A benchmark worker process: hosts one competing subscriber with a trivial handler and reports the
// publish → handler-start latencies (from a high-resolution send time in the payload) over IPC.
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
  { name: 'work', concurrency: Number(concurrency), from: 'earliest' },
);

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'report') {
    process.send?.({
      type: 'report',
      latencies: latencies.splice(0),
      handled,
      rss: process.memoryUsage().rss,
    });
  } else if (msg.type === 'stop') {
    void manager.close().then(() => process.exit(0));
  }
});
process.send?.({ type: 'ready' });
