// One benchmark case per system, all on the same Redis and each under its own key prefix (deleted after):
// a throughput phase (publish `events` as fast as possible in batches of 500, time until every one is
// done) and a latency phase (a paced stream at `rate` per second; publish → handler-start latencies).
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { unlinkKeysUnder } from '../adapters/redis/redis-keys.js';
import { createQueueManager } from '../index.js';
import { cpuMs, now, paced, until, Workers, type Report } from './redis-procs.js';

/** What every case is given. */
export interface CaseSetup {
  /** Redis URL without a query. */
  readonly url: string;
  readonly workers: number;
  readonly concurrency: number;
  readonly events: number;
  readonly rate: number;
  readonly seconds: number;
}

/** What every case measures. */
export interface CaseResult {
  readonly eventsPerSecond: number;
  /** CPU per event of the throughput phase, in µs: the publishing process, all workers, Redis. */
  readonly cpu: { readonly publisher: number; readonly workers: number; readonly redis: number };
  /** Sorted publish → handler-start latencies of the paced phase, in ms. */
  readonly latencies: number[];
  /** CPU per event of the paced phase, in µs, as `cpu`: at a trickle, per-event wake-ups dominate. */
  readonly pacedCpu: CaseResult['cpu'];
}

/** How one case publishes and sees progress. */
interface Driver {
  /** Publishes `n` events at once (one batch). */
  publishBatch(n: number): Promise<void>;
  /** Publishes one event, not awaited. */
  publishOne(): void;
  /** Events done so far (result recorded, job completed, entry acked). */
  done(): number;
  /** When the last event counted by {@link done} finished, as the worker that saw it says ({@link now}). */
  doneAt(): number;
}

const BATCH = 500;

function batches(events: number): number[] {
  return Array.from({ length: Math.ceil(events / BATCH) }, (_, i) => Math.min(BATCH, events - i * BATCH));
}

function latencies(reports: readonly Report[]): number[] {
  return reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
}

/** CPU time of this process, the workers and the Redis server so far, in ms. */
async function cpuNow(workers: Workers, redis: Redis): Promise<CaseResult['cpu']> {
  const [reports, info] = await Promise.all([workers.reports(), redis.info('cpu')]);
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return {
    publisher: cpuMs(),
    workers: reports.reduce((sum, r) => sum + r.cpu, 0),
    redis: (field('used_cpu_user') + field('used_cpu_sys')) * 1000,
  };
}

/** The two phases of a case: throughput, then latency at a paced rate. */
async function measure(s: CaseSetup, workers: Workers, redis: Redis, d: Driver): Promise<CaseResult> {
  const before = await cpuNow(workers, redis);
  const t0 = now();
  for (const n of batches(s.events)) await d.publishBatch(n);
  await until(() => d.done() >= s.events);
  // Ends when the last event was done, not when this process heard of it (up to a progress period later).
  const eventsPerSecond = s.events / ((d.doneAt() - t0) / 1000);
  const after = await cpuNow(workers, redis); // also drops the throughput phase's latencies
  const cpu = cpuPerEvent(before, after, s.events);
  const count = await paced(s.rate, s.seconds, () => d.publishOne());
  await until(() => d.done() >= s.events + count);
  const reports = await workers.reports();
  const end = await cpuNow(workers, redis);
  return { eventsPerSecond, cpu, latencies: latencies(reports), pacedCpu: cpuPerEvent(after, end, count) };
}

function cpuPerEvent(before: CaseResult['cpu'], after: CaseResult['cpu'], events: number): CaseResult['cpu'] {
  const perEvent = (ms: number): number => (ms * 1000) / events;
  return {
    publisher: perEvent(after.publisher - before.publisher),
    workers: perEvent(after.workers - before.workers),
    redis: perEvent(after.redis - before.redis),
  };
}

/** Prefixes of the cases under way, deleted by {@link deleteLivePrefixes} when the run is interrupted. */
const live = new Set<string>();

/** A key prefix of this run; {@link deletePrefix} removes it. */
export function benchPrefix(system: string): string {
  const prefix = `eventy-bench-${system}-${randomUUID().slice(0, 8)}`;
  live.add(prefix);
  return prefix;
}

/** Deletes the keys under `<prefix>:` (SCAN + UNLINK), never anything else. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    await unlinkKeysUnder(redis, prefix);
    live.delete(prefix);
  } finally {
    await redis.quit();
  }
}

/** Deletes the keys of the cases under way (on Ctrl-C: the run leaves nothing in Redis). */
export async function deleteLivePrefixes(url: string): Promise<void> {
  await Promise.allSettled([...live].map((prefix) => deletePrefix(url, prefix)));
}

/**
 * Eventy on Redis: the public API, workers as in bench/queue.ts (bench/queue-worker.ts). The publishing
 * process only publishes, so its manager never reads the log (as a BullMQ `Queue`); progress comes from
 * the workers, whose folds each see every result.
 */
export async function eventyCase(s: CaseSetup): Promise<CaseResult> {
  const prefix = benchPrefix('eventy');
  const store = new URL(s.url);
  store.searchParams.set('prefix', prefix);
  const m = await createQueueManager({ store: store.toString(), handleSignals: false });
  const redis = new Redis(s.url);
  let workers: Workers | undefined;
  try {
    const q = m.queue<{ sentAt: number }>('bench');
    workers = await Workers.start('./queue-worker.js', [store.toString(), String(s.concurrency)], s.workers);
    const w = workers;
    return await measure(s, w, redis, {
      publishBatch: async (n) => {
        await q.publishMany(Array.from({ length: n }, () => ({ sentAt: now() })));
      },
      publishOne: () => void q.publish({ sentAt: now() }),
      done: () => w.highest,
      doneAt: () => w.highestAt,
    });
  } finally {
    await workers?.stop();
    await m.close();
    await redis.quit();
    await deletePrefix(s.url, prefix);
  }
}

/** BullMQ: `addBulk` to publish, `Worker`s with jobs removed on completion, no QueueEvents. */
export async function bullmqCase(s: CaseSetup): Promise<CaseResult> {
  const prefix = benchPrefix('bullmq');
  const queue = new Queue<{ sentAt: number }>('bench', {
    connection: { url: s.url, maxRetriesPerRequest: null },
    prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  const redis = new Redis(s.url);
  let workers: Workers | undefined;
  try {
    await queue.waitUntilReady();
    workers = await Workers.start(
      './redis-bullmq-worker.js',
      [s.url, prefix, String(s.concurrency)],
      s.workers,
    );
    const w = workers;
    return await measure(s, w, redis, {
      publishBatch: async (n) => {
        await queue.addBulk(Array.from({ length: n }, () => ({ name: 'job', data: { sentAt: now() } })));
      },
      publishOne: () => void queue.add('job', { sentAt: now() }),
      done: () => w.done,
      doneAt: () => w.doneAt,
    });
  } finally {
    await workers?.stop();
    await queue.close();
    await redis.quit();
    await deletePrefix(s.url, prefix);
  }
}

/** The raw ceiling: pipelined XADD to publish, XREADGROUP + XACK consumers (bench/redis-streams-worker.ts). */
export async function streamsCase(s: CaseSetup): Promise<CaseResult> {
  const prefix = benchPrefix('streams');
  const key = `${prefix}:{bench}:events`;
  const redis = new Redis(s.url);
  let workers: Workers | undefined;
  try {
    await redis.xgroup('CREATE', key, 'bench', '$', 'MKSTREAM');
    workers = await Workers.start(
      './redis-streams-worker.js',
      [s.url, key, 'bench', String(s.concurrency)],
      s.workers,
    );
    const w = workers;
    return await measure(s, w, redis, {
      publishBatch: async (n) => {
        const pipeline = redis.pipeline();
        for (let i = 0; i < n; i++) pipeline.xadd(key, '*', 'd', JSON.stringify({ sentAt: now() }));
        await pipeline.exec();
      },
      publishOne: () => void redis.xadd(key, '*', 'd', JSON.stringify({ sentAt: now() })),
      done: () => w.done,
      doneAt: () => w.doneAt,
    });
  } finally {
    await workers?.stop();
    await redis.quit();
    await deletePrefix(s.url, prefix);
  }
}
