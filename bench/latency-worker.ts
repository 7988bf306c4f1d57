// A worker process of `bench:latency`: runs a trivial competing handler and reports, for each event it
// started, its position, when its fold had the event and the start time, with what may have delayed it:
// the process's GC pauses, its event-loop stalls (a 1 ms timer firing late) and its CPU time; answers
// `done` with the results folded. argv: storeUrl concurrency
import { PerformanceObserver } from 'node:perf_hooks';
import { createQueueManager } from '../index.js';
import { cpuMs, doneCounter, now } from './redis-procs.js';

const [store = '', concurrency = '10'] = process.argv.slice(2);
const starts: [number, number, number][] = [];
/** When this worker's fold had each event not yet started. */
const seen = new Map<number, number>();
const gcs: number[] = [];
/** GC pauses as [start, end] in the wall-clock ms of `now()`. */
const gcSpans: [number, number][] = [];
const stalls: number[] = [];

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcs.push(e.duration);
    const start = performance.timeOrigin + e.startTime;
    gcSpans.push([start, start + e.duration]);
  }
}).observe({ entryTypes: ['gc'] });
let last = now();
setInterval(() => {
  const t = now();
  if (t - last > 3) stalls.push(t - last);
  last = t;
}, 1).unref();

const manager = await createQueueManager({ store, handleSignals: false });
// Emitted as each record is folded, before the dispatcher reacts to it: when this worker's fold had the
// event. (No event is in the log yet when the workers start: `new` misses none.)
manager.records$({ from: 'new', types: ['event.published'] }).subscribe((r) => seen.set(r.position, now()));
const q = manager.queue('bench');
const done = doneCounter(q);
await q.subscribe(
  (e) => {
    const t = now();
    starts.push([e.position, seen.get(e.position) ?? t, t]);
    seen.delete(e.position);
  },
  {
    name: 'work',
    concurrency: Number(concurrency),
    from: 'earliest',
  },
);
process.on('message', (msg: string) => {
  if (msg === 'done') {
    // The subscriber's results as this worker's fold sees them (every worker folds the whole log).
    process.send?.({ done: done() });
  } else if (msg === 'report') {
    process.send?.({
      starts: starts.splice(0),
      gcs: gcs.splice(0),
      gcSpans: gcSpans.splice(0),
      stalls: stalls.splice(0),
      cpu: cpuMs(),
    });
  } else if (msg === 'stop') void manager.close().then(() => process.exit(0));
});
process.send?.('ready');
