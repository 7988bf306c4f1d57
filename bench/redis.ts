// npm run bench:redis [-- --events N] [-- --rate R] [-- --seconds S] [-- --rounds K] [-- --only eventy,bullmq,streams]
// Eventy on Redis against BullMQ and the raw Redis Streams ceiling, in one run on one Redis (REDIS_URL,
// default redis://127.0.0.1:6379), each case under its own key prefix, deleted after:
// - events/s end to end: publish `events` in batches of 500, until every one is done (result recorded /
//   job completed / entry acked), 1 and 2 worker processes, concurrency 10 and 50;
// - latency from publish to handler start at `rate` events/s (p50, p99), in the same cases;
// - CPU time per event of the throughput phase: publisher, workers, Redis server (load-independent).
// Every case runs `rounds` times, the systems taking turns; each figure is the best of the rounds, so a
// burst of load from elsewhere on the machine does not decide a ratio.
// BENCH_ONLY=2x50 runs one worker/concurrency pair; BENCH_WORKER_ARGS passes node flags to the workers;
// BENCH_RESERVE=0 runs Eventy's workers with `reserve: false` (every event claimed after it is seen).
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  bullmqCase,
  deleteLivePrefixes,
  eventyCase,
  streamsCase,
  type CaseResult,
  type CaseSetup,
} from './redis-cases.js';
import { killWorkers, quantile } from './redis-procs.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '30000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    only: { type: 'string', default: 'eventy,bullmq,streams' },
  },
});
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const events = Number(args.events);
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);

const SYSTEMS = {
  eventy: eventyCase,
  bullmq: bullmqCase,
  streams: streamsCase,
} as const satisfies Record<string, (s: CaseSetup) => Promise<CaseResult>>;
type System = keyof typeof SYSTEMS;
/** Streams consumers run one loop per process: their "concurrency" is the XREADGROUP COUNT. */
const STREAMS_BATCH = 100;

interface Row {
  system: System;
  workers: number;
  concurrency: number;
  'events/s': number;
  'p50 ms': number;
  'p99 ms': number;
  'CPU µs/ev: pub': number;
  wrk: number;
  redis: number;
  'paced CPU µs/ev': number;
}

const only = process.env.BENCH_ONLY?.split('x').map(Number);
const systems = args.only.split(',').filter((s): s is System => s in SYSTEMS);
const cases: { system: System; workers: number; concurrency: number }[] = [];
for (const workers of [1, 2]) {
  for (const concurrency of [10, 50]) {
    if (only && (only[0] !== workers || only[1] !== concurrency)) continue;
    for (const system of systems) {
      if (system === 'streams' && concurrency !== 50) continue;
      cases.push({ system, workers, concurrency: system === 'streams' ? STREAMS_BATCH : concurrency });
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // Workers first, so that none appends to a log whose keys are being deleted.
    killWorkers();
    void deleteLivePrefixes(url).finally(() => process.exit(130));
  });
}

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `Redis ${url}: ${events} events per throughput case, latency at ${rate}/s for ${seconds} s, ` +
    `best of ${rounds} rounds; ${os.cpus().length} CPUs, load average ${load()}`,
);
const best = new Map<(typeof cases)[number], Row>();
for (let round = 1; round <= rounds; round++) {
  // Systems take turns in each setting, so that a change of load on the machine hits them alike.
  for (const c of cases) {
    const r = await SYSTEMS[c.system]({ url, ...c, events, rate, seconds });
    const row: Row = {
      ...c,
      'events/s': Math.round(r.eventsPerSecond),
      'p50 ms': round2(quantile(r.latencies, 0.5)),
      'p99 ms': round2(quantile(r.latencies, 0.99)),
      'CPU µs/ev: pub': Math.round(r.cpu.publisher),
      wrk: Math.round(r.cpu.workers),
      redis: Math.round(r.cpu.redis),
      'paced CPU µs/ev': Math.round(r.pacedCpu.publisher + r.pacedCpu.workers + r.pacedCpu.redis),
    };
    const paced = Object.entries(r.pacedCpu).map(([k, v]) => `${k} ${Math.round(v)}`);
    console.log(`round ${round}: ${JSON.stringify(row)}; paced CPU µs/ev: ${paced.join(', ')}`);
    best.set(c, bestOf(best.get(c), row));
  }
}
const rows = [...best.values()];
console.table(rows);
console.log(`load average after: ${load()}`);
summary(rows);

function round2(ms: number): number {
  return Number(ms.toFixed(2));
}

/** Per figure, the better of two rounds of one case. */
function bestOf(a: Row | undefined, b: Row): Row {
  if (!a) return b;
  const low = (k: 'p50 ms' | 'p99 ms' | 'CPU µs/ev: pub' | 'wrk' | 'redis' | 'paced CPU µs/ev'): number =>
    Math.min(a[k], b[k]);
  return {
    ...b,
    'events/s': Math.max(a['events/s'], b['events/s']),
    'p50 ms': low('p50 ms'),
    'p99 ms': low('p99 ms'),
    'CPU µs/ev: pub': low('CPU µs/ev: pub'),
    wrk: low('wrk'),
    redis: low('redis'),
    'paced CPU µs/ev': low('paced CPU µs/ev'),
  };
}

function top(system: System, by: (r: Row) => number): Row | undefined {
  return rows.filter((r) => r.system === system).sort((a, b) => by(a) - by(b))[0];
}

function summary(all: readonly Row[]): void {
  const fastest = (s: System): Row | undefined => top(s, (r) => -r['events/s']);
  const steadiest = (s: System): Row | undefined => top(s, (r) => r['p99 ms']);
  const cpu = (r: Row): number => r['CPU µs/ev: pub'] + r.wrk + r.redis;
  const e = fastest('eventy');
  const b = fastest('bullmq');
  const c = fastest('streams');
  const name = (r: Row | undefined): string => (r ? `${r.workers}×${r.concurrency}` : '-');
  const ratio = (x: number | undefined, y: number | undefined): string =>
    x === undefined || y === undefined ? 'n/a' : (x / y).toFixed(2);
  console.log(
    `best events/s: eventy ${e?.['events/s'] ?? '-'} (${name(e)}), bullmq ${b?.['events/s'] ?? '-'} (${name(b)}), streams ${c?.['events/s'] ?? '-'} (${name(c)})`,
  );
  console.log(`Eventy/BullMQ throughput: ${ratio(e?.['events/s'], b?.['events/s'])} (target ≥ 2)`);
  console.log(`Eventy/ceiling throughput: ${ratio(e?.['events/s'], c?.['events/s'])}`);
  const el = steadiest('eventy');
  const bl = steadiest('bullmq');
  console.log(
    `best p99 @${rate}/s: eventy ${el?.['p99 ms'] ?? '-'} ms (${name(el)}), bullmq ${bl?.['p99 ms'] ?? '-'} ms (${name(bl)}); Eventy/BullMQ ${ratio(el?.['p99 ms'], bl?.['p99 ms'])} (target < 1)`,
  );
  for (const r of all.filter((x) => x.system === 'eventy')) {
    const twin = all.find(
      (x) => x.system === 'bullmq' && x.workers === r.workers && x.concurrency === r.concurrency,
    );
    if (!twin) continue;
    console.log(
      `  ${name(r)}: throughput ×${ratio(r['events/s'], twin['events/s'])}, p99 ×${ratio(r['p99 ms'], twin['p99 ms'])}, ` +
        `CPU per event ×${ratio(cpu(r), cpu(twin))} (${cpu(r)} vs ${cpu(twin)} µs) vs BullMQ`,
    );
  }
}
