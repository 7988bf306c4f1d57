// npm run bench:latency [-- --workers N] [-- --concurrency C] [-- --warm N] [-- --rate R] [-- --seconds S]
// npm run bench:latency -- --hop [-- --rate R] [-- --seconds S]
// Where Eventy's publish → handler-start latency goes on Redis (REDIS_URL): a burst of `warm` events
// first (as bench:redis runs its throughput phase before its latency phase), then `rate` events/s for
// `seconds`. Each latency splits into publish → seen (the worker's fold had the event) and seen → run
// (it took the event bound to its reservation, or claimed it and its claim came back through the fold),
// printed as quantiles; for the slow
// events also by the log's times (ms): publish → log, log → claim, claim → run. Also printed: the
// workers' CPU time, GC pauses and event-loop stalls over the paced phase.
// --hop measures one hop alone, with nothing else running: an event published (by a manager that only
// publishes) until a bare follower of the store has it, against raw Redis in the same run (EVAL of an
// XADD script, a bare XREAD BLOCK loop).
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createQueueManager, openStore, type RecordOf } from '../index.js';
import { deletePrefix } from './redis-cases.js';
import { cpuMs, now, paced, quantile } from './redis-procs.js';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '10' },
    warm: { type: 'string', default: '30000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
    hop: { type: 'boolean', default: false },
  },
});
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SLOW_MS = 2;
/** Node flags for the workers (e.g. --cpu-prof), as in bench:redis. */
const workerArgs = process.env.BENCH_WORKER_ARGS?.split(' ').filter(Boolean) ?? [];

interface WorkerReport {
  /** Per event: position, when the worker's fold had it, when its handler started. */
  starts: [number, number, number][];
  gcs: number[];
  /** GC pauses as [start, end], wall-clock ms. */
  gcSpans: [number, number][];
  stalls: number[];
  cpu: number;
}

/** Sends `request` to every worker and collects their answers. */
function ask<A>(children: ChildProcess[], request: 'report' | 'done'): Promise<A[]> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<A>((resolve) => {
          c.once('message', (m) => resolve(m as A));
          c.send(request);
        }),
    ),
  );
}

const report = (children: ChildProcess[]): Promise<WorkerReport[]> => ask<WorkerReport>(children, 'report');

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const fmt = (x: number): string => x.toFixed(2);

async function main(): Promise<void> {
  const prefix = `eventy-bench-latency-${randomUUID().slice(0, 8)}`;
  const store = new URL(url);
  store.searchParams.set('prefix', prefix);
  const m = await createQueueManager({ store: store.toString(), handleSignals: false });
  const children: ChildProcess[] = [];
  try {
    const q = m.queue<{ sentAt: number }>('bench');
    const worker = new URL('./latency-worker.js', import.meta.url).pathname;
    for (let i = 0; i < Number(args.workers); i++) {
      children.push(fork(worker, [store.toString(), args.concurrency], { execArgv: workerArgs }));
    }
    await Promise.all(children.map((c) => new Promise((r) => c.once('message', r))));
    // The publisher only publishes (its manager never reads the log, as in bench:redis): the workers'
    // folds say how many events are done.
    const done = async (): Promise<number> =>
      Math.max(...(await ask<{ done: number }>(children, 'done')).map((a) => a.done));
    const wait = async (n: number): Promise<void> => {
      while ((await done()) < n) await new Promise((r) => setTimeout(r, 5));
    };
    const warm = Number(args.warm);
    for (let i = 0; i < warm; i += 500) {
      await q.publishMany(Array.from({ length: Math.min(500, warm - i) }, () => ({ sentAt: now() })));
    }
    await wait(warm);
    const before = await report(children);
    const cpu0 = cpuMs();
    const sent = new Map<number, { at: number; logTime: number }>();
    const count = await paced(Number(args.rate), Number(args.seconds), () => {
      const at = now();
      void q.publish({ sentAt: at }).then((e) => sent.set(e.position, { at, logTime: e.publishedAt }));
    });
    await wait(warm + count);
    const after = await report(children);
    const publisherCpu = cpuMs() - cpu0;

    const claimAt = new Map<number, number>();
    const reader = await openStore(store.toString());
    for await (const r of reader.read()) {
      if (r.type === 'claim.acquired') claimAt.set((r as RecordOf<'claim.acquired'>).eventPosition, r.time);
      if (r.type === 'claims.acquired')
        for (const it of (r as RecordOf<'claims.acquired'>).items) claimAt.set(it.eventPosition, r.time);
    }
    await reader.close();

    const rows = after.flatMap((w) =>
      // An event "met a GC pause" when one of its worker's pauses overlapped its publish → start.
      w.starts.flatMap(([p, seenAt, started]) => {
        const s = sent.get(p);
        if (!s) return [];
        // No claim record: the event was bound to the worker's reservation as it was appended.
        const claimed = claimAt.get(p) ?? s.logTime;
        return [
          {
            p,
            latency: started - s.at,
            gc: w.gcSpans.some(([a, b]) => a < started && b > s.at),
            toSeen: seenAt - s.at,
            seenToRun: started - seenAt,
            toLog: s.logTime - s.at,
            toClaim: claimed - s.logTime,
            toRun: started - claimed,
            bound: !claimAt.has(p),
          },
        ];
      }),
    );
    const sorted = rows.map((r) => r.latency).sort((a, b) => a - b);
    console.log(
      `eventy bench:latency — ${args.workers} worker(s) × ${args.concurrency}, ${warm} warm-up events, ` +
        `${count} at ${args.rate}/s`,
    );
    console.log(
      `latency ms: p50 ${fmt(quantile(sorted, 0.5))} p90 ${fmt(quantile(sorted, 0.9))} ` +
        `p99 ${fmt(quantile(sorted, 0.99))} p99.9 ${fmt(quantile(sorted, 0.999))} max ${fmt(sorted.at(-1) ?? NaN)}`,
    );
    const quantiles = (f: (r: (typeof rows)[number]) => number): string => {
      const v = rows.map(f).sort((a, b) => a - b);
      return [0.5, 0.9, 0.99].map((x) => fmt(quantile(v, x))).join(' / ');
    };
    console.log(
      `p50 / p90 / p99 ms: publish → seen by the worker's fold ${quantiles((r) => r.toSeen)}; seen → run ${quantiles((r) => r.seenToRun)}`,
    );
    const clear = rows.filter((r) => !r.gc).map((r) => r.latency);
    clear.sort((a, b) => a - b);
    console.log(
      `${rows.length - clear.length} events met a GC pause of their worker; without them p50 ` +
        `${fmt(quantile(clear, 0.5))} p99 ${fmt(quantile(clear, 0.99))} ms`,
    );
    console.log(
      `${rows.filter((r) => r.bound).length} of ${rows.length} events ran on a reservation (no claim record)`,
    );
    const slow = rows.filter((r) => r.latency > SLOW_MS);
    const mean = (f: (r: (typeof rows)[number]) => number): string => fmt(sum(slow.map(f)) / slow.length);
    console.log(
      `${slow.length} events over ${SLOW_MS} ms; their mean split (log time has ms resolution): ` +
        `publish → log ${mean((r) => r.toLog)}, log → claim ${mean((r) => r.toClaim)}, claim → run ${mean((r) => r.toRun)}`,
    );
    console.log(
      `paced phase: workers' CPU ${after.map((w, i) => fmt(w.cpu - (before[i]?.cpu ?? 0))).join(', ')} ms, ` +
        `publisher ${fmt(publisherCpu)} ms; GC pauses ${after.map((w) => `${w.gcs.length} (${fmt(sum(w.gcs))} ms, max ${fmt(Math.max(0, ...w.gcs))})`).join(', ')}; ` +
        `event-loop stalls > 3 ms ${after.map((w) => w.stalls.length).join(', ')}`,
    );
  } finally {
    for (const c of children) c.send('stop');
    await m.close();
    await deletePrefix(url, prefix);
  }
}

/** One hop alone: Eventy (publish → a bare follower) and raw Redis (EVAL of XADD → XREAD), same run. */
async function hop(): Promise<void> {
  const prefix = `eventy-bench-latency-${randomUUID().slice(0, 8)}`;
  const store = new URL(url);
  store.searchParams.set('prefix', prefix);
  const m = await createQueueManager({ store: store.toString(), handleSignals: false });
  const redis = new Redis(url);
  const rawKey = `${prefix}:{raw}:events`;
  const follower = new URL('./hop-follower.js', import.meta.url).pathname;
  const measure = async (argv: string[], send: () => void): Promise<string> => {
    const child = fork(follower, argv, { execArgv: workerArgs });
    try {
      await new Promise((r) => child.once('message', r));
      await new Promise((r) => setTimeout(r, 200)); // the follower is blocked in its read
      const count = await paced(Number(args.rate), Number(args.seconds), send);
      await new Promise((r) => setTimeout(r, 200));
      const [latencies = []] = await ask<number[]>([child], 'report');
      latencies.sort((a, b) => a - b);
      const at = (x: number): string => fmt(quantile(latencies, x));
      return `${latencies.length}/${count} seen, p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} p99.9 ${at(0.999)} ms`;
    } finally {
      child.kill();
    }
  };
  try {
    const q = m.queue<{ sentAt: number }>('bench');
    const eventy = await measure(['eventy', store.toString()], () => void q.publish({ sentAt: now() }));
    const script = "return redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])";
    const raw = await measure(['raw', url, rawKey], () => {
      void redis.eval(script, 1, rawKey, JSON.stringify({ sentAt: now() }));
    });
    console.log(`one hop at ${args.rate}/s for ${args.seconds} s, publish → a follower has it:`);
    console.log(`  Eventy (Queue.publish → store.follow): ${eventy}`);
    console.log(`  raw Redis (EVAL of XADD → XREAD BLOCK): ${raw}`);
  } finally {
    await m.close();
    await redis.quit();
    await deletePrefix(url, prefix);
  }
}

await (args.hop ? hop() : main());
