// npm run bench:schedule [-- --schedules N] [-- --every MS] [-- --seconds S] [-- --workers W]
//   [-- --concurrency C] [-- --only eventy,bullmq]
// Schedules on Redis (REDIS_URL, default redis://127.0.0.1:6379): `schedules` interval schedules
// (`every` ms) run by `workers` worker processes for `seconds`, Eventy's `queue.schedule` against
// BullMQ's job schedulers (`upsertJobScheduler`) on the same Redis in one run, each under its own key
// prefix (deleted after). Both are counted the same way, from the handler runs the workers record: for
// every schedule and every slot of the measured window, 0 runs is a miss and more than 1 a duplicate.
// Fire delay: Eventy, the slot event's log time − the slot; BullMQ, the job's `processedOn` − the slot
// (a job becomes due in Redis and fires when a worker takes it). Start delay: handler start − the slot,
// for both. CPU per fire: the workers' process.cpuUsage and the Redis server's (INFO cpu) over the window.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Queue as BullQueue } from 'bullmq';
import { Redis } from 'ioredis';
import { createQueueManager } from '../index.js';
import { benchPrefix, deleteLivePrefixes, deletePrefix } from './redis-cases.js';
import { killWorkers, quantile, Workers } from './redis-procs.js';
import type { Fire, Fires } from './schedule-worker.js';

const { values: args } = parseArgs({
  options: {
    schedules: { type: 'string', default: '1000' },
    every: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
    workers: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '50' },
    only: { type: 'string', default: 'eventy,bullmq' },
  },
});
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const schedules = Number(args.schedules);
const every = Number(args.every);
const seconds = Number(args.seconds);
const workerCount = Number(args.workers);
const concurrency = Number(args.concurrency);
/** Slots before the window (workers starting, a first catch-up) and the wait for stragglers after it. */
const WARMUP_MS = 3000;
const DRAIN_MS = 3000;

interface Row {
  system: string;
  'fires/s': number;
  duplicates: number;
  misses: number;
  'fire p50 ms': number;
  'fire p99 ms': number;
  'start p99 ms': number;
  'CPU µs/fire: workers': number;
  redis: number;
  total: number;
}

/** How a system registers its schedules and what its workers are. */
interface System {
  readonly name: 'eventy' | 'bullmq';
  register(prefix: string, ids: readonly string[]): Promise<void>;
}

const SYSTEMS: Record<string, System> = {
  eventy: {
    name: 'eventy',
    async register(prefix, ids) {
      const store = new URL(url);
      store.searchParams.set('prefix', prefix);
      const m = await createQueueManager({ store: store.toString(), handleSignals: false });
      try {
        const q = m.queue('ticks');
        for (let i = 0; i < ids.length; i += 100)
          await Promise.all(ids.slice(i, i + 100).map((id) => q.schedule(id, { every, payload: null })));
      } finally {
        await m.close();
      }
    },
  },
  bullmq: {
    name: 'bullmq',
    async register(prefix, ids) {
      const q = new BullQueue('ticks', { connection: { url, maxRetriesPerRequest: null }, prefix });
      try {
        for (let i = 0; i < ids.length; i += 100) {
          await Promise.all(
            ids
              .slice(i, i + 100)
              .map((id) => q.upsertJobScheduler(id, { every }, { name: 'tick', data: null })),
          );
        }
      } finally {
        await q.close();
      }
    },
  },
};

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killWorkers();
    void deleteLivePrefixes(url).finally(() => process.exit(130));
  });
}

const sleepUntil = (t: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

async function fires(workers: Workers): Promise<Fires[]> {
  return (await workers.reports()) as unknown as Fires[];
}

async function run(system: System): Promise<Row> {
  const prefix = benchPrefix(`sched-${system.name}`);
  const ids = Array.from({ length: schedules }, (_, i) => `s${i}`);
  const redis = new Redis(url);
  let workers: Workers | undefined;
  try {
    await system.register(prefix, ids);
    workers = await Workers.start(
      './schedule-worker.js',
      [system.name, url, prefix, String(concurrency)],
      workerCount,
    );
    // The window: `seconds` whole periods of slots, measured from half a period before the first.
    const from = Math.ceil((Date.now() + WARMUP_MS) / every) * every;
    const to = from + seconds * 1000;
    await sleepUntil(from - every / 2);
    const cpu0 = (await fires(workers)).reduce((sum, r) => sum + r.cpu, 0);
    const redis0 = await redisCpuMs(redis);
    await sleepUntil(to - every / 2);
    const cpu1 = (await fires(workers)).reduce((sum, r) => sum + r.cpu, 0);
    const redis1 = await redisCpuMs(redis);
    await sleepUntil(to + DRAIN_MS);
    const runs = (await fires(workers)).flatMap((r) => r.fires);
    return count(system.name, ids, runs, from, to, { workers: cpu1 - cpu0, redis: redis1 - redis0 });
  } finally {
    await workers?.stop();
    await redis.quit();
    await deletePrefix(url, prefix);
  }
}

/**
 * Duplicates and misses of the window `[from, to)`, counted alike for both systems: each schedule's
 * slots sit `every` apart (its phase taken from the slots it ran); a slot of the window run 0 times is
 * a miss, run n > 1 times makes n − 1 duplicates.
 */
function count(
  name: string,
  ids: readonly string[],
  runs: readonly Fire[],
  from: number,
  to: number,
  cpu: { workers: number; redis: number },
): Row {
  const bySchedule = new Map<string, Map<number, Fire[]>>();
  for (const f of runs) {
    let slots = bySchedule.get(f[0]);
    if (!slots) bySchedule.set(f[0], (slots = new Map<number, Fire[]>()));
    slots.set(f[1], [...(slots.get(f[1]) ?? []), f]);
  }
  let duplicates = 0;
  let misses = 0;
  let twins = 0;
  const fireDelays: number[] = [];
  const startDelays: number[] = [];
  for (const id of ids) {
    const slots = bySchedule.get(id) ?? new Map<number, Fire[]>();
    const phase = ((([...slots.keys()][0] ?? 0) % every) + every) % every;
    for (let slot = from + phase; slot < to + phase; slot += every) {
      const ran = slots.get(slot) ?? [];
      if (ran.length === 0) misses++;
      duplicates += Math.max(0, ran.length - 1);
      twins += Math.max(0, new Set(ran.map((f) => f[4])).size - 1);
      const first = ran[0];
      if (first) {
        fireDelays.push(first[2] - slot);
        startDelays.push(Math.min(...ran.map((f) => f[3])) - slot);
      }
    }
  }
  fireDelays.sort((a, b) => a - b);
  startDelays.sort((a, b) => a - b);
  const fired = fireDelays.length;
  const perFire = (ms: number): number => Math.round((ms * 1000) / fired);
  if (twins > 0)
    console.log(`${name}: ${twins} slots had a second event (of which duplicates counts the runs)`);
  return {
    system: name,
    'fires/s': Math.round(fired / seconds),
    duplicates,
    misses,
    'fire p50 ms': round2(quantile(fireDelays, 0.5)),
    'fire p99 ms': round2(quantile(fireDelays, 0.99)),
    'start p99 ms': round2(quantile(startDelays, 0.99)),
    'CPU µs/fire: workers': perFire(cpu.workers),
    redis: perFire(cpu.redis),
    total: perFire(cpu.workers + cpu.redis),
  };
}

function round2(ms: number): number {
  return Number(ms.toFixed(2));
}

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `Redis ${url}: ${schedules} schedules every ${every} ms, ${workerCount} worker processes × ${concurrency}, ` +
    `${seconds} s window; ${os.cpus().length} CPUs, load average ${load()}`,
);
const rows: Row[] = [];
for (const name of args.only.split(',')) {
  const system = SYSTEMS[name];
  if (!system) throw new Error(`--only: unknown system ${name} (eventy, bullmq)`);
  const row = await run(system);
  console.log(JSON.stringify(row));
  rows.push(row);
}
console.table(rows);
console.log(`load average after: ${load()}`);
const [e, b] = [rows.find((r) => r.system === 'eventy'), rows.find((r) => r.system === 'bullmq')];
if (e) {
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(
    `targets: 0 duplicates ${met(e.duplicates === 0)}, 0 misses ${met(e.misses === 0)}, p99 fire delay ≤ 50 ms ${met(e['fire p99 ms'] <= 50)} (${e['fire p99 ms']})`,
  );
  if (b) {
    const ratio = e.total / b.total;
    console.log(
      `CPU per fire, Eventy / BullMQ: ${ratio.toFixed(2)} (${e.total} vs ${b.total} µs) — target ≤ 1: ${met(ratio <= 1)}`,
    );
    console.log(
      `p99 fire delay, Eventy / BullMQ: ${(e['fire p99 ms'] / b['fire p99 ms']).toFixed(2)} (${e['fire p99 ms']} vs ${b['fire p99 ms']} ms); BullMQ duplicates ${b.duplicates}, misses ${b.misses}`,
    );
  }
}
