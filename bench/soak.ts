// npm run soak [-- --quick] [-- --rounds R] [-- --stores file,redis] [-- --only publishers,workers,restart]
//              [-- --kills N] [-- --worker-kills N] [-- --events N] [-- --restarts N]
// A bounded red-team soak: the faults the log is built to survive, repeated at random moments, counted.
// - publishers: 2 publisher processes SIGKILLed `kills` times (default 20) per store and started again;
//   lost = acknowledged batches missing from the log, partial = batches with only some records visible;
// - workers: 3 worker processes (1 s lease) SIGKILLed `worker-kills` times (default 10) per store while
//   `events` events (default 2,000) are published; every event must get exactly one accepted ok result;
// - restart: a private redis-server with AOF (fsync always) restarted `restarts` times (default 2) with
//   SHUTDOWN and as many with SIGKILL under 2 publishers; no acknowledged batch may be lost.
// - retention (only when asked: `--only retention`): 2 workers on a file log with `retention` 1 minute and
//   a snapshot every 20,000 records while 500 events/s are published for `minutes` (default 10, quick 1);
//   the log directory must stay bounded and every event must get its ok result (bench/soak-retention.ts).
// Each scenario prints a table; the exit code is 1 if any lost, partial, duplicate, missing or error count
// is not 0. `--quick` (5 kills, 3 worker kills, 500 events, 1 restart each way) takes under a minute.
// REDIS_URL (default redis://127.0.0.1:6379): the shared Redis, under a key prefix of its own per store,
// deleted after; BENCH_DIR: where temporary logs go (default the OS temp folder).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { unlinkKeysUnder } from '../adapters/redis/redis-keys.js';
import { killAll } from './soak-procs.js';
import { publishersUnderKill } from './soak-publishers.js';
import { redisRestarts } from './soak-restart.js';
import { retentionSoak, type RetentionRow } from './soak-retention.js';
import { workersUnderKill } from './soak-workers.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    stores: { type: 'string', default: 'file,redis' },
    only: { type: 'string', default: 'publishers,workers,restart' },
    kills: { type: 'string' },
    'worker-kills': { type: 'string' },
    events: { type: 'string' },
    restarts: { type: 'string' },
    minutes: { type: 'string' },
    rate: { type: 'string' },
  },
});
const count = (name: string, value: string | undefined, full: number, quick: number): number => {
  const n = value === undefined ? (args.quick ? quick : full) : Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number ≥ 0, got ${value}`);
  return n;
};
const rounds = count('rounds', args.rounds, 1, 1);
const kills = count('kills', args.kills, 20, 5);
const workerKills = count('worker-kills', args['worker-kills'], 10, 3);
const events = count('events', args.events, 2000, 500);
const restarts = count('restarts', args.restarts, 2, 1);
const minutes = count('minutes', args.minutes, 10, 1);
const rate = count('rate', args.rate, 500, 500);
const stores = args.stores.split(',').filter(Boolean);
const only = new Set(args.only.split(',').filter(Boolean));
for (const s of stores)
  if (s !== 'file' && s !== 'redis') throw new Error(`--stores: file or redis, got ${s}`);
for (const s of only) {
  if (!['publishers', 'workers', 'restart', 'retention'].includes(s))
    throw new Error(`--only: publishers, workers, restart or retention, got ${s}`);
}
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Logs made for this run, removed at the end (or on SIGINT). */
const cleanups = new Set<() => Promise<void>>();

/** A fresh log on `store`: its URL, and its removal (the temp dir, or exactly this run's Redis keys). */
async function freshLog(store: string): Promise<{ url: string; remove: () => Promise<void> }> {
  let remove: () => Promise<void>;
  let url: string;
  if (store === 'file') {
    const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'eventy-soak-'));
    url = `file:${dir}/log?segmentBytes=1048576`;
    remove = () => rm(dir, { recursive: true, force: true });
  } else {
    const prefix = `eventy-soak-${randomUUID()}`;
    url = `${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=${prefix}&segmentRecords=512`;
    remove = async () => {
      const redis = new Redis(redisUrl);
      try {
        await unlinkKeysUnder(redis, prefix);
      } finally {
        redis.disconnect();
      }
    };
  }
  const once = async (): Promise<void> => {
    cleanups.delete(once);
    await remove();
  };
  cleanups.add(once);
  return { url, remove: once };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // Children first, so that none appends to a log being removed.
    killAll();
    void Promise.allSettled([...cleanups].map((c) => c())).finally(() => process.exit(130));
  });
}

/** Counts that must be 0 in every row. */
const MUST_BE_ZERO = [
  'lost',
  'partial',
  'duplicates accepted',
  'missing',
  'getResults ≠ 1',
  'errors',
  'ok twice',
];
/** Set once a count that must be 0 is not, or a scenario fails. */
const verdict = { failed: false };

async function scenario<R extends object>(title: string, run: (store: string) => Promise<R>, on: string[]) {
  const rows: (R & { round: number; s: number })[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const store of on) {
      try {
        const began = Date.now();
        const row = await run(store);
        rows.push({ round, ...row, s: Math.round((Date.now() - began) / 1000) });
      } catch (e) {
        verdict.failed = true;
        console.error(`${title}, ${store}, round ${round} failed:`, e);
      }
    }
  }
  console.log(`\n${title}`);
  console.table(rows);
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) if (MUST_BE_ZERO.includes(k) && v !== 0) verdict.failed = true;
  }
}

/** The retention scenario on a fresh file log with `retention=1m` (small segments, so whole ones can go). */
async function retentionOnFile(): Promise<RetentionRow> {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'eventy-soak-retention-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  cleanups.add(remove);
  try {
    const url = `file:${dir}/log?segmentBytes=1048576&retention=1m`;
    const row = await retentionSoak(url, dir, { minutes, rate, snapshotEvery: 20_000 });
    // Not bounded: the last third of the run needed much more room than the middle third.
    const [mid, last] = row['max MiB, 2nd / 3rd third'].split(' / ').map(Number);
    if (minutes >= 3 && (last ?? 0) > 1.5 * (mid ?? 0) + 4) verdict.failed = true;
    return row;
  } finally {
    cleanups.delete(remove);
    await remove();
  }
}

async function onFreshLog<R>(store: string, run: (url: string) => Promise<R>): Promise<R> {
  const log = await freshLog(store);
  try {
    return await run(log.url);
  } finally {
    await log.remove();
  }
}

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const began = Date.now();
console.log(
  `soak: ${rounds} round(s); publishers: ${kills} kills per store; workers: ${workerKills} kills, ${events} ` +
    `events per store; Redis restarts: ${restarts} graceful + ${restarts} kill -9; stores ${stores.join(', ')}; ` +
    `${os.cpus().length} CPUs, load average ${load()}`,
);
try {
  if (only.has('publishers'))
    await scenario(
      `Publishers under SIGKILL (2 processes, ${kills} kills per store)`,
      (store) => onFreshLog(store, (url) => publishersUnderKill(store, url, kills)),
      stores,
    );
  if (only.has('workers'))
    await scenario(
      `Workers under SIGKILL (3 processes, 1 s lease, ${workerKills} kills per store)`,
      (store) => onFreshLog(store, (url) => workersUnderKill(store, url, { kills: workerKills, events })),
      stores,
    );
  if (only.has('restart'))
    await scenario(
      'Redis restarts with AOF (appendfsync always), 2 publishers retrying unavailable',
      () => redisRestarts(restarts),
      ['redis'],
    );
  if (only.has('retention'))
    await scenario(
      `Retention (2 workers, file log, retention 1 min, snapshot every 20,000 records, ${rate} events/s, ${minutes} min)`,
      () => retentionOnFile(),
      ['file'],
    );
} finally {
  killAll();
  await Promise.allSettled([...cleanups].map((c) => c()));
}
console.log(
  `\n${verdict.failed ? 'FAILED' : 'ok'}: ${((Date.now() - began) / 1000).toFixed(0)} s, load average ${load()}`,
);
process.exit(verdict.failed ? 1 : 0);
