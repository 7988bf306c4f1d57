// The cases of bench/postgres.ts, all on one PostgreSQL server, each in a schema of its own dropped
// after: Eventy and pg-boss end to end (a throughput phase: publish `events` in batches of 500 and time
// until every one is done; a latency phase: a paced stream at `rate` per second, publish → handler
// start), and the store's append of batches of 100 against a raw multi-row INSERT of the same rows.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { openPostgresStore } from '../adapters/postgres/index.js';
import { createQueueManager } from '../index.js';
import { cpuMs, now, paced, until, Workers, type Report } from './redis-procs.js';

/** What every end-to-end case is given. */
export interface CaseSetup {
  /** PostgreSQL URL without a query. */
  readonly url: string;
  readonly workers: number;
  readonly concurrency: number;
  readonly events: number;
  /** Events run through before anything is measured (the JIT, the pools, the first pages). */
  readonly warm: number;
  readonly rate: number;
  readonly seconds: number;
}

/** What every end-to-end case measures. */
export interface CaseResult {
  readonly eventsPerSecond: number;
  /** CPU per event of the throughput phase, in µs: the publishing process, all workers, the server. */
  readonly cpu: { readonly publisher: number; readonly workers: number; readonly db: number };
  /** Sorted publish → handler-start latencies of the paced phase, in ms. */
  readonly latencies: number[];
  /** Paced publishes that failed (a pool out of connections, a deadline): not waited for. */
  readonly failed: number;
}

interface Driver {
  publishBatch(n: number): Promise<void>;
  /** Publishes one event; not awaited by the pacer, its failure counted. */
  publishOne(): Promise<unknown>;
  done(): number;
  /** When the last event counted by {@link done} finished, as the worker that saw it says ({@link now}). */
  doneAt(): number;
}

const BATCH = 500;
const live = new Set<string>();

/** A schema of this run, dropped by {@link dropSchema} (or {@link dropLiveSchemas} on Ctrl-C). */
export function benchSchema(system: string): string {
  const schema = `eventy_bench_${system}_${randomBytes(4).toString('hex')}`;
  live.add(schema);
  return schema;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    live.delete(schema);
  } finally {
    await client.end();
  }
}

export async function dropLiveSchemas(url: string): Promise<void> {
  await Promise.allSettled([...live].map((s) => dropSchema(url, s)));
}

/**
 * CPU time of the PostgreSQL server so far, in ms: the postmaster with its exited children, and its
 * live children (backends, WAL writer, checkpointer), from /proc. NaN where /proc is not readable. It
 * counts every client of the server, so other load on it shows here.
 */
export async function serverCpuMs(url: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const postmaster = stat(rows[0]!.pid)?.ppid;
    if (postmaster === undefined) return NaN;
    let ticks = stat(postmaster)?.ticks ?? NaN;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const s = stat(Number(name));
      if (s?.ppid === postmaster) ticks += s.ticks;
    }
    return ticks * 10; // USER_HZ is 100 on Linux
  } finally {
    await client.end();
  }
}

function stat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number): number => Number(f[i - 3]);
    return { ppid: n(4), ticks: n(14) + n(15) + n(16) + n(17) };
  } catch {
    return undefined;
  }
}

async function cpuNow(workers: Workers, url: string): Promise<CaseResult['cpu']> {
  const [reports, db] = await Promise.all([workers.reports(), serverCpuMs(url)]);
  return { publisher: cpuMs(), workers: reports.reduce((sum, r) => sum + r.cpu, 0), db };
}

async function measure(s: CaseSetup, workers: Workers, d: Driver): Promise<CaseResult> {
  for (let left = s.warm; left > 0; left -= BATCH) await d.publishBatch(Math.min(BATCH, left));
  await until(() => d.done() >= s.warm);
  const before = await cpuNow(workers, s.url);
  const t0 = now();
  for (let left = s.events; left > 0; left -= BATCH) await d.publishBatch(Math.min(BATCH, left));
  await until(() => d.done() >= s.warm + s.events);
  // Ends when the last event was done, not when this process heard of it (up to a progress period later).
  const eventsPerSecond = s.events / ((d.doneAt() - t0) / 1000);
  const after = await cpuNow(workers, s.url); // also drops the throughput phase's latencies
  const perEvent = (a: number, b: number): number => ((b - a) * 1000) / s.events;
  const cpu = {
    publisher: perEvent(before.publisher, after.publisher),
    workers: perEvent(before.workers, after.workers),
    db: perEvent(before.db, after.db),
  };
  let failed = 0;
  const count = await paced(s.rate, s.seconds, () => {
    d.publishOne().catch(() => failed++);
  });
  await until(() => d.done() >= s.warm + s.events + count - failed);
  const latencies = (await workers.reports()).flatMap((r: Report) => r.latencies).sort((a, b) => a - b);
  return { eventsPerSecond, cpu, latencies, failed };
}

/** Eventy on PostgreSQL: the public API, workers as in bench/queue.ts (bench/queue-worker.ts). */
export async function eventyCase(s: CaseSetup): Promise<CaseResult> {
  const schema = benchSchema('eventy');
  const store = new URL(s.url);
  store.searchParams.set('schema', schema);
  const m = await createQueueManager({ store: store.toString(), handleSignals: false });
  let workers: Workers | undefined;
  try {
    const q = m.queue<{ sentAt: number }>('bench');
    workers = await Workers.start('./queue-worker.js', [store.toString(), String(s.concurrency)], s.workers);
    const w = workers;
    return await measure(s, w, {
      publishBatch: async (n) => {
        await q.publishMany(Array.from({ length: n }, () => ({ sentAt: now() })));
      },
      publishOne: () => q.publish({ sentAt: now() }),
      done: () => w.highest,
      doneAt: () => w.highestAt,
    });
  } finally {
    await workers?.stop();
    await m.close();
    await dropSchema(s.url, schema);
  }
}

/** pg-boss: `insert` to publish a batch, `send` one, workers fetching batches (bench/postgres-pgboss-worker.ts). */
export async function pgbossCase(s: CaseSetup): Promise<CaseResult> {
  const schema = benchSchema('pgboss');
  const boss = new PgBoss({ connectionString: s.url, schema, supervise: false, schedule: false });
  boss.on('error', (e) => console.error('pg-boss:', e));
  let workers: Workers | undefined;
  try {
    await boss.start();
    await boss.createQueue('bench', { notify: true });
    workers = await Workers.start(
      './postgres-pgboss-worker.js',
      [s.url, schema, String(s.concurrency)],
      s.workers,
    );
    const w = workers;
    return await measure(s, w, {
      publishBatch: async (n) => {
        await boss.insert(
          'bench',
          Array.from({ length: n }, () => ({ data: { sentAt: now() } })),
        );
      },
      publishOne: () => boss.send('bench', { sentAt: now() }),
      done: () => w.done,
      doneAt: () => w.doneAt,
    });
  } finally {
    await workers?.stop();
    await boss.stop({ graceful: false });
    await dropSchema(s.url, schema);
  }
}

/** Records per second: the store's append of batches of 100, and a raw multi-row INSERT of the same rows. */
export interface AppendResult {
  readonly store: number;
  readonly raw: number;
}

const APPENDERS = 4;

/** Both ways for `seconds` each, from {@link APPENDERS} concurrent callers (the store's pool size). */
export async function appendCase(url: string, seconds: number): Promise<AppendResult> {
  const schema = benchSchema('append');
  const store = await openPostgresStore(url, { schema, pool: APPENDERS });
  const pool = new pg.Pool({ connectionString: url, max: APPENDERS });
  try {
    const drafts = Array.from({ length: 100 }, (_, i) => ({
      type: 'event.published',
      queue: 'bench',
      eventId: `e${i}`,
      payload: { sentAt: now(), n: i },
      headers: {},
    }));
    const storeRate = await rate(seconds, () => store.append(drafts));
    // The same rows with the bodies the store wrote, positions from a counter: no head row, no encoding.
    await pool.query(`CREATE TABLE "${schema}".raw (position bigint PRIMARY KEY, time bigint NOT NULL,
      more boolean NOT NULL, body bytea NOT NULL)`);
    const bodies = (
      await pool.query<{ body: Buffer }>(
        `SELECT body FROM "${schema}".log_default ORDER BY position LIMIT 100`,
      )
    ).rows.map((r) => r.body);
    const values = bodies.map((_, i) => `($${4 * i + 1}, $${4 * i + 2}, $${4 * i + 3}, $${4 * i + 4})`);
    const text = `INSERT INTO "${schema}".raw (position, time, more, body) VALUES ${values.join(', ')}`;
    let position = 0;
    const rawRate = await rate(seconds, () => {
      const time = Date.now();
      const params = bodies.flatMap((body, i) => [position++, time, i < bodies.length - 1, body]);
      return pool.query({ name: 'raw', text, values: params });
    });
    return { store: storeRate, raw: rawRate };
  } finally {
    await store.close();
    await pool.end();
    await dropSchema(url, schema);
  }
}

async function rate(seconds: number, append: () => Promise<unknown>): Promise<number> {
  const start = now();
  const stop = start + seconds * 1000;
  let records = 0;
  await Promise.all(
    Array.from({ length: APPENDERS }, async () => {
      while (now() < stop) {
        await append();
        records += 100;
      }
    }),
  );
  return records / ((now() - start) / 1000);
}
