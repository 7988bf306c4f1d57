// `npm run bench:startup [-- --sizes 100000,1000000,3000000]`: worker start-up time and RSS on the file
// store for histories of each size, without and with a snapshot. A history: events published with
// publishMany to a queue with a competing subscriber that finished all but the newest 100 (their claims and
// results appended as a worker's batches), plus 100 events of a queue nobody serves. Each start-up is
// measured in a child process (open the store → `createQueueManager({ fold: 'eager' })` ready) that
// reports its time and RSS. Targets (issue 13): with a snapshot ≤ 0.5 s, 3M/100k time ≤ 1.5×, RSS at 3M
// within 10% of RSS at 100k. BENCH_DIR sets where logs are built (default the OS temp dir).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { createManager, createQueueManager, openStore, type LogStore, type RecordDraft } from '../index.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '100000,1000000,3000000' } },
});
const SIZES = args.sizes.split(',').map(Number);
const BATCH = 1000;
const OPEN = 100;
const CHILD = new URL('./startup-child.js', import.meta.url).pathname;
const run = promisify(execFile);

interface Start {
  ms: number;
  rssMb: number;
  maxRssMb: number;
  startedFrom: number;
  position: number;
}

interface Row {
  events: number;
  diskMb: number;
  without: Start;
  snapshot: { ms: number; bytes: number; events: number };
  with: Start;
}

async function build(url: string, events: number): Promise<void> {
  const publisher = await createQueueManager({ store: url, handleSignals: false });
  const store = await openStore(url);
  try {
    const sub = { queue: 'jobs', subscriberId: 'jobs/w', workerId: 'bench-worker' };
    await store.append([
      {
        type: 'worker.joined',
        workerId: sub.workerId,
        host: os.hostname(),
        pid: 1,
        queues: ['jobs'],
        subscribers: [sub.subscriberId],
        ttlMs: 86_400_000,
      },
      {
        type: 'subscriber.registered',
        queue: 'jobs',
        subscriberId: sub.subscriberId,
        name: 'w',
        delivery: 'competing',
        retry: { limit: 3, minBackoff: 100, maxBackoff: 1000 },
        timeout: 0,
        startPosition: 0,
      },
    ]);
    await publisher.queue('parked').publishMany(Array.from({ length: OPEN }, (_, n) => ({ n })));
    const q = publisher.queue<{ n: number; pad: string }>('jobs');
    const pad = 'x'.repeat(120);
    for (let n = 0; n < events; n += BATCH) {
      const batch = await q.publishMany(Array.from({ length: BATCH }, (_, i) => ({ n: n + i, pad })));
      // The last batch keeps OPEN events unfinished (in flight or waiting, as a live queue's newest are):
      // the open set does not grow with the history.
      const done = n + BATCH >= events ? batch.slice(0, BATCH - OPEN) : batch;
      await finish(store, sub, done);
    }
  } finally {
    await publisher.close();
    await store.close();
  }
}

/** A worker's claims and ok results for `events`, as one claims.acquired and one results.recorded. */
async function finish(
  store: LogStore,
  sub: { queue: string; subscriberId: string; workerId: string },
  events: readonly { id: string; position: number }[],
): Promise<void> {
  const items = events.map((e) => ({ eventId: e.id, eventPosition: e.position, attempt: 1 }));
  const claims: RecordDraft = { type: 'claims.acquired', ...sub, leaseMs: 600_000, items };
  const results: RecordDraft = {
    type: 'results.recorded',
    ...sub,
    items: items.map((it) => ({ ...it, status: 'ok' as const, durationMs: 1 })),
  };
  await store.append([claims]);
  await store.append([results]);
}

async function measure(url: string): Promise<Start> {
  const { stdout } = await run(process.execPath, [CHILD, url], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Start;
}

async function snapshot(url: string): Promise<Row['snapshot']> {
  const store = await openStore(url);
  const m = await createManager(store, { handleSignals: false, snapshotEvery: 0, scheduler: false });
  try {
    const info = await m.snapshot();
    return { ms: info.ms, bytes: info.bytes, events: info.events };
  } finally {
    await m.close();
  }
}

function du(dir: string): number {
  let bytes = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) bytes += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return bytes;
}

async function one(events: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'eventy-startup-'));
  const url = `file:${dir}`;
  try {
    process.stderr.write(`building ${events.toLocaleString('en')} events…\n`);
    await build(url, events);
    const diskMb = du(dir) / 2 ** 20;
    const without = await measure(url);
    const snap = await snapshot(url);
    const withSnapshot = await measure(url);
    if (withSnapshot.startedFrom < 0) throw new Error('the start-up did not use the snapshot');
    return { events, diskMb, without, snapshot: snap, with: withSnapshot };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const n of SIZES) rows.push(await one(n));

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mb = (x: number): string => `${x.toFixed(0)} MB`;
console.log(`bench:startup — file store, ${os.cpus().length} cores, node ${process.version}`);
console.log(
  '| events of history | disk | start-up, no snapshot | RSS | snapshot (write, size, open events) | start-up, snapshot | RSS |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  const snap = `${s(r.snapshot.ms)}, ${(r.snapshot.bytes / 1024).toFixed(0)} KiB, ${r.snapshot.events}`;
  console.log(
    `| ${r.events.toLocaleString('en')} | ${mb(r.diskMb)} | ${s(r.without.ms)} | ${mb(r.without.rssMb)} | ${snap} | ${s(r.with.ms)} | ${mb(r.with.rssMb)} |`,
  );
}
const small = rows[0];
const big = rows.at(-1);
if (small && big && big !== small) {
  const timeRatio = big.with.ms / small.with.ms;
  const rssRatio = big.with.rssMb / small.with.rssMb;
  const worst = Math.max(...rows.map((r) => r.with.ms));
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(
    `with a snapshot: ${big.events.toLocaleString('en')}/${small.events.toLocaleString('en')} start-up ${timeRatio.toFixed(2)}× ` +
      `(target ≤ 1.5×: ${mark(timeRatio <= 1.5)}), RSS ${rssRatio.toFixed(2)}× (target within 10%: ${mark(Math.abs(rssRatio - 1) <= 0.1)}), ` +
      `slowest ${s(worst)} (target ≤ 0.5 s: ${mark(worst <= 500)}); without: ${(big.without.ms / small.without.ms).toFixed(1)}×`,
  );
}
