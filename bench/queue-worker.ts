// A benchmark worker process: hosts one competing subscriber with a trivial handler and reports the
// publish → handler-start latencies (from a high-resolution send time in the payload) and its CPU time
// over IPC, with its memory: now and at its peak. argv: storeUrl (any store: file:…, redis://…) concurrency
import v8 from 'node:v8';
import { createQueueManager } from '../index.js';
import { countDone, cpuMs, now, sendProgress } from './redis-procs.js';

const [store = '', concurrency = '10'] = process.argv.slice(2);
const latencies: number[] = [];
let handled = 0;

const manager = await createQueueManager({ store, handleSignals: false });
const q = manager.queue<{ sentAt: number }>('bench');
const done = countDone(q);
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
    // BENCH_RESERVE=0: claim every event after seeing it (no claim.reserved), for an A/B run
    ...(process.env.BENCH_RESERVE === '0' ? { reserve: false } : {}),
  },
);

// Progress for benchmarks whose publisher does not fold the log (bench:redis): the subscriber's done
// count as this worker's fold sees it (every worker folds the whole log).
sendProgress(done);

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'report') {
    process.send?.({
      type: 'report',
      latencies: latencies.splice(0),
      handled,
      rss: process.memoryUsage().rss,
      heap: process.memoryUsage().heapUsed,
      cpu: cpuMs(),
      peak,
    });
  } else if (msg.type === 'stop') {
    void manager.close().then(() => process.exit(0));
  }
});
process.send?.({ type: 'ready' });

/**
 * The process's peak RSS, sampled every 50 ms (reports come too seldom to catch it: it is reached just
 * before a major GC), with where the memory was then.
 */
let peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0, newSpace: 0, oldSpace: 0 };
setInterval(() => {
  if (process.memoryUsage.rss() <= peak.rss) return;
  const spaces = v8.getHeapSpaceStatistics();
  const size = (name: string): number => spaces.find((s) => s.space_name === name)?.space_size ?? 0;
  peak = { ...process.memoryUsage(), newSpace: size('new_space'), oldSpace: size('old_space') };
}, 50).unref();
