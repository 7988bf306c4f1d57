// npm run bench:queue [-- --events N] [-- --memory]
// End-to-end throughput (publish → handler → result) and publish → handler-start latency on the
// filesystem store, with 1 and 2 worker processes at concurrency 1 and 10.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WORKER_HEAP_FLAGS } from '../cli/supervisor.js';
import { createQueueManager } from '../index.js';
import { doneCounter } from './redis-procs.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    memory: { type: 'boolean', default: false },
    rate: { type: 'string', default: '1000' },
  },
});
const WORKER = new URL('./queue-worker.js', import.meta.url).pathname;
const now = (): number => performance.timeOrigin + performance.now();

interface Report {
  type: 'report';
  latencies: number[];
  handled: number;
  rss: number;
  heap: number;
  cpu: number;
  peak: {
    rss: number;
    heapTotal: number;
    heapUsed: number;
    external: number;
    arrayBuffers: number;
    newSpace: number;
    oldSpace: number;
  };
}

function startWorker(store: string, concurrency: number): Promise<ChildProcess> {
  // The heap settings `eventy run` gives its workers (cli/supervisor.ts); BENCH_WORKER_ARGS replaces
  // them (' ' for V8's defaults, to compare the memory run's peak RSS).
  const execArgv = process.env.BENCH_WORKER_ARGS?.split(' ').filter(Boolean) ?? [...WORKER_HEAP_FLAGS];
  const child = fork(WORKER, [store, String(concurrency)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  return new Promise((resolve) => child.once('message', () => resolve(child)));
}

/** The worker's next report (it also sends `progress` messages, for bench:redis). */
function report(child: ChildProcess): Promise<Report> {
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string }): void => {
      if (m.type !== 'report') return;
      child.off('message', onMessage);
      resolve(m as Report);
    };
    child.on('message', onMessage);
    child.send({ type: 'report' });
  });
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise((r) => {
          c.once('exit', r);
          c.send({ type: 'stop' });
        }),
    ),
  );
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number);
}

async function waitDone(done: () => number, target: number): Promise<void> {
  while (done() < target) await new Promise((r) => setTimeout(r, 2));
}

async function scenario(
  workers: number,
  concurrency: number,
  events: number,
): Promise<Record<string, string | number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventy-bench-'));
  const store = `file:${path.join(dir, 'log')}${process.env.BENCH_STORE_QUERY ?? ''}`;
  const m = await createQueueManager({ store, handleSignals: false, fold: 'eager' });
  const q = m.queue<{ sentAt: number }>('bench');
  const done = doneCounter(q);
  // register the subscriber before the workers start so all of them see it
  const children = await Promise.all(Array.from({ length: workers }, () => startWorker(store, concurrency)));
  // throughput: publish everything as fast as possible, in batches of 500
  const t0 = now();
  for (let i = 0; i < events; i += 500) {
    await q.publishMany(Array.from({ length: Math.min(500, events - i) }, () => ({ sentAt: now() })));
  }
  await waitDone(done, events);
  const seconds = (now() - t0) / 1000;
  await Promise.all(children.map(report)); // drop throughput-phase latencies
  // latency: a paced stream at `rate` events/s for 3 s
  const rate = Number(args.rate);
  const paced = rate * 3;
  const start = now();
  for (let i = 0; i < paced; i++) {
    const due = start + (i * 1000) / rate;
    while (now() < due) await new Promise((r) => setImmediate(r));
    void q.publish({ sentAt: now() });
  }
  await waitDone(done, events + paced);
  const reports = await Promise.all(children.map(report));
  const lat = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
  await stopAll(children);
  await m.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    workers,
    concurrency,
    events,
    'events/s': Math.round(events / seconds),
    [`p50 ms @${rate}/s`]: Number(pct(lat, 0.5).toFixed(2)),
    [`p99 ms @${rate}/s`]: Number(pct(lat, 0.99).toFixed(2)),
  };
}

async function memory(total: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventy-bench-'));
  const store = `file:${path.join(dir, 'log')}${process.env.BENCH_STORE_QUERY ?? ''}`;
  const m = await createQueueManager({ store, handleSignals: false, fold: 'eager' });
  const q = m.queue<{ sentAt: number }>('bench');
  const done = doneCounter(q);
  const children = await Promise.all([startWorker(store, 10), startWorker(store, 10)]);
  const samples: number[] = [];
  const t0 = now();
  for (let i = 0; i < total; i += 1000) {
    await q.publishMany(Array.from({ length: 1000 }, () => ({ sentAt: now() })));
    // keep the backlog bounded so memory measures the steady state, not a queue of a million events
    while (i - done() > 20_000) await new Promise((r) => setTimeout(r, 5));
    if (i % 100_000 === 0) {
      const reports = await Promise.all(children.map(report));
      const rss = reports.map((r) => Math.round(r.rss / 2 ** 20));
      const heap = reports.map((r) => Math.round(r.heap / 2 ** 20));
      samples.push(...rss);
      console.log(
        `${i} events: worker RSS ${rss.join(', ')} MB (heap ${heap.join(', ')} MB), manager RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`,
      );
    }
  }
  await waitDone(done, total);
  const finals = await Promise.all(children.map(report));
  const rss = finals.map((r) => Math.round(r.rss / 2 ** 20));
  const mb = (n: number): number => Math.round(n / 2 ** 20);
  for (const { peak: p } of finals) {
    console.log(
      `worker peak RSS ${mb(p.rss)} MB: heap ${mb(p.heapTotal)} MB (new space ${mb(p.newSpace)}, old space ${mb(p.oldSpace)}; ${mb(p.heapUsed)} in use), external ${mb(p.external)} MB (array buffers ${mb(p.arrayBuffers)})`,
    );
  }
  const cpu = finals.reduce((sum, r) => sum + r.cpu, 0);
  console.log(
    `${total} events in ${((now() - t0) / 1000).toFixed(1)} s: worker RSS ${rss.join(', ')} MB (max seen ${Math.max(...samples, ...rss)} MB, peak ${Math.max(...finals.map((r) => mb(r.peak.rss)))} MB), worker CPU ${((cpu * 1000) / total).toFixed(1)} µs/event`,
  );
  await stopAll(children);
  await m.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

if (args.memory) {
  await memory(Number(process.env.BENCH_MEMORY_EVENTS ?? 1_000_000));
} else {
  const rows = [];
  const only = process.env.BENCH_ONLY?.split('x').map(Number);
  for (const [w, c] of [
    [1, 1],
    [1, 10],
    [2, 1],
    [2, 10],
  ] as const) {
    if (only && (only[0] !== w || only[1] !== c)) continue;
    const row = await scenario(w, c, Number(args.events));
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  console.table(rows);
  console.log(
    'targets: ≥ 20,000 events/s with 2 workers (batch durability); p50 ≤ 2 ms, p99 ≤ 10 ms at 1,000 events/s',
  );
}
