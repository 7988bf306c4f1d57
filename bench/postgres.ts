// npm run bench:postgres [-- --events N[,N…]] [-- --warm W] [-- --rate R] [-- --seconds S] [-- --rounds K] [-- --concurrency C]
// Eventy on PostgreSQL against pg-boss, in one run on one server (POSTGRES_URL, default
// postgres://postgres@127.0.0.1:5432/test), each case in a schema of its own, dropped after:
// - events/s end to end: publish `events` in batches of 500 until every one is done, 1 and 2 worker
//   processes at `concurrency` each, for each backlog size given (default 10,000 and 50,000: a table
//   queue slows down as its backlog grows, a log does not), after `warm` events run through the same path unmeasured (JIT,
//   connection pools, prepared statements: a case's first second is not its steady state);
// - latency from publish to handler start at `rate` events/s (p50, p99), in the same cases;
// - CPU time per event of the throughput phase: publisher, workers, the database server (from /proc:
//   every client of the server counts, so run it on a quiet server);
// - the store's append of batches of 100 (4 callers) against a raw multi-row INSERT of the same rows.
// Every case runs `rounds` times, the systems taking turns; each figure is the best of the rounds.
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  appendCase,
  dropLiveSchemas,
  eventyCase,
  pgbossCase,
  type CaseResult,
  type CaseSetup,
} from './postgres-cases.js';
import { killWorkers, quantile } from './redis-procs.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '10000,50000' },
    warm: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '50' },
  },
});
const url = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const backlogs = args.events.split(',').map(Number);
const setup = {
  warm: Number(args.warm),
  rate: Number(args.rate),
  seconds: Number(args.seconds),
  concurrency: Number(args.concurrency),
};
const rounds = Number(args.rounds);
const SYSTEMS = { eventy: eventyCase, 'pg-boss': pgbossCase } as const;
type System = keyof typeof SYSTEMS;

interface Row {
  system: System;
  workers: number;
  events: number;
  'events/s': number;
  'p50 ms': number;
  'p99 ms': number;
  'CPU µs/ev: pub': number;
  wrk: number;
  db: number;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killWorkers();
    void dropLiveSchemas(url).finally(() => process.exit(130));
  });
}

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `PostgreSQL ${url}: ${backlogs.join(' and ')} events per throughput case after ${setup.warm} warm-up events, concurrency ${setup.concurrency}, ` +
    `latency at ${setup.rate}/s for ${setup.seconds} s, best of ${rounds} rounds; ` +
    `${os.cpus().length} CPUs, load average ${load()}`,
);
const best = new Map<string, Row>();
let append = { store: 0, raw: 0 };
for (let round = 1; round <= rounds; round++) {
  for (const events of backlogs) {
    for (const workers of [1, 2]) {
      for (const system of Object.keys(SYSTEMS) as System[]) {
        const s: CaseSetup = { url, workers, events, ...setup };
        const r = await SYSTEMS[system](s);
        const row = toRow(system, workers, events, r);
        const failed = r.failed > 0 ? `; ${r.failed} paced publishes failed` : '';
        console.log(`round ${round}: ${JSON.stringify(row)}${failed}`);
        const key = `${system} ${workers} ${events}`;
        best.set(key, bestOf(best.get(key), row));
      }
    }
  }
  const a = await appendCase(url, 3);
  console.log(
    `round ${round}: append of 100-record batches ${Math.round(a.store)} rec/s, raw INSERT ${Math.round(a.raw)} rec/s`,
  );
  append = { store: Math.max(append.store, a.store), raw: Math.max(append.raw, a.raw) };
}
const rows = [...best.values()];
console.table(rows);
console.log(`load average after: ${load()}`);
summary();

function toRow(system: System, workers: number, events: number, r: CaseResult): Row {
  return {
    system,
    workers,
    events,
    'events/s': Math.round(r.eventsPerSecond),
    'p50 ms': round2(quantile(r.latencies, 0.5)),
    'p99 ms': round2(quantile(r.latencies, 0.99)),
    'CPU µs/ev: pub': Math.round(r.cpu.publisher),
    wrk: Math.round(r.cpu.workers),
    db: Math.round(r.cpu.db),
  };
}

function round2(ms: number): number {
  return Number(ms.toFixed(2));
}

/** Per figure, the better of two rounds of one case. */
function bestOf(a: Row | undefined, b: Row): Row {
  if (!a) return b;
  const low = (k: 'p50 ms' | 'p99 ms' | 'CPU µs/ev: pub' | 'wrk' | 'db'): number => Math.min(a[k], b[k]);
  return {
    ...b,
    'events/s': Math.max(a['events/s'], b['events/s']),
    'p50 ms': low('p50 ms'),
    'p99 ms': low('p99 ms'),
    'CPU µs/ev: pub': low('CPU µs/ev: pub'),
    wrk: low('wrk'),
    db: low('db'),
  };
}

function summary(): void {
  const pick = (system: System, by: (r: Row) => number, events?: number): Row | undefined =>
    rows
      .filter((r) => r.system === system && (events === undefined || r.events === events))
      .sort((x, y) => by(x) - by(y))[0];
  const ratio = (x: number | undefined, y: number | undefined): string =>
    x === undefined || y === undefined ? 'n/a' : (x / y).toFixed(2);
  for (const events of backlogs) {
    const e = pick('eventy', (r) => -r['events/s'], events);
    const b = pick('pg-boss', (r) => -r['events/s'], events);
    console.log(
      `${events} events: best events/s eventy ${e?.['events/s'] ?? '-'} (${e?.workers ?? '-'} workers), ` +
        `pg-boss ${b?.['events/s'] ?? '-'} (${b?.workers ?? '-'} workers): ` +
        `Eventy/pg-boss throughput ${ratio(e?.['events/s'], b?.['events/s'])} (target ≥ 3)`,
    );
    for (const workers of [1, 2]) {
      const x = rows.find((r) => r.system === 'eventy' && r.workers === workers && r.events === events);
      const y = rows.find((r) => r.system === 'pg-boss' && r.workers === workers && r.events === events);
      if (x && y) {
        console.log(
          `  ${workers} worker(s): throughput ×${ratio(x['events/s'], y['events/s'])}, ` +
            `database CPU per event ×${ratio(x.db, y.db)} (${x.db} vs ${y.db} µs)`,
        );
      }
    }
  }
  const el = pick('eventy', (r) => r['p99 ms']);
  const bl = pick('pg-boss', (r) => r['p99 ms']);
  console.log(
    `best p99 @${setup.rate}/s: eventy ${el?.['p99 ms'] ?? '-'} ms, pg-boss ${bl?.['p99 ms'] ?? '-'} ms; ` +
      `Eventy/pg-boss ${ratio(el?.['p99 ms'], bl?.['p99 ms'])} (target < 1)`,
  );
  console.log(
    `store append (batches of 100): ${Math.round(append.store)} rec/s, raw multi-row INSERT ${Math.round(append.raw)} rec/s: ` +
      `${ratio(append.store, append.raw)} of the ceiling (target ≥ 0.5)`,
  );
}
