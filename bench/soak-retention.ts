// Soak scenario "retention": a log that runs for as long as it is fed and stays the same size. Two worker
// processes (bench/soak-worker.ts) on a file log with a retention policy (default 1 minute) and a snapshot
// every `snapshotEvery` records (default 20,000), written and followed by compaction by the elected worker,
// while this process publishes `rate` events/s (default 500) for `minutes` (default 10). The log directory's
// size is sampled every second; a follower in this process reads every record as it is appended (before
// retention can remove it) and counts, per event, the `ok` results of subscriber `work`.
// Lost = events published (acknowledged) with no ok result once the drain is over; the directory must not
// keep growing: the largest size in the last third of the run is compared with the largest in the middle third.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createQueueManager, openStore, unbatched, type RecordOf } from '../index.js';
import { sleep, script, start, stop, type Proc } from './soak-procs.js';

/** One row of the retention table. */
export interface RetentionRow {
  readonly minutes: number;
  readonly published: number;
  /** Events with at least one ok result. */
  readonly ok: number;
  /** Events with more than one ok result (no worker is killed here: expected 0). */
  readonly 'ok twice': number;
  readonly missing: number;
  readonly snapshots: number;
  /** First retained position at the end, and the head. */
  readonly 'first / head': string;
  readonly 'max dir MiB': number;
  /** Largest size in the middle third of the run and in the last third: a growing log shows here. */
  readonly 'max MiB, 2nd / 3rd third': string;
  readonly errors: number;
}

export interface RetentionOptions {
  readonly minutes: number;
  readonly rate?: number;
  readonly snapshotEvery?: number;
  readonly drainMs?: number;
}

/** Runs the scenario on a fresh file log in `dir` (`url` carries the retention policy). */
export async function retentionSoak(url: string, dir: string, o: RetentionOptions): Promise<RetentionRow> {
  const { minutes, rate = 500, snapshotEvery = 20_000, drainMs = 120_000 } = o;
  const errors: string[] = [];
  const counter = await countResults(url, errors);
  const manager = await createQueueManager({ store: url, handleSignals: false, snapshotEvery: 0 });
  const queue = manager.queue<{ n: number }>('soak');
  const procs: Proc[] = [];
  const sizes: { at: number; bytes: number }[] = [];
  const sampling = sampleSizes(dir, sizes);
  const runMs = minutes * 60_000;
  const began = Date.now();
  let published = 0;
  try {
    for (let i = 0; i < 2; i++) {
      const [node, file] = script('soak-worker');
      procs.push(await start(node, [file, url, '5000', String(snapshotEvery)], () => undefined, isReady));
    }
    // Batches every 100 ms, paced against the clock so that a slow append does not lower the rate.
    const perBatch = Math.max(1, Math.round(rate / 10));
    while (Date.now() - began < runMs) {
      await queue.publishMany(Array.from({ length: perBatch }, (_, k) => ({ n: published + k })));
      published += perBatch;
      const due = began + (published / rate) * 1000;
      await sleep(Math.max(0, due - Date.now()));
    }
    const deadline = Date.now() + drainMs;
    while (counter.ok() < published && Date.now() < deadline) await sleep(200);
  } finally {
    for (const p of procs) if (p.child.exitCode !== null) errors.push(`worker ended: ${p.stderr()}`);
    await Promise.all(procs.map((p) => stop(p)));
    sampling.stop();
  }
  const store = await openStore(url);
  try {
    const snapshots = await store.listSnapshots();
    const first = await store.first();
    const head = await store.head();
    for (const e of errors) console.error(e);
    const third = (k: number): number =>
      mib(
        Math.max(
          0,
          ...sizes.filter((s) => s.at >= (k * runMs) / 3 && s.at < ((k + 1) * runMs) / 3).map((s) => s.bytes),
        ),
      );
    return {
      minutes,
      published,
      ok: counter.ok(),
      'ok twice': counter.twice(),
      missing: published - counter.okOf(published),
      snapshots: counter.snapshots(),
      'first / head': `${first} / ${head} (${snapshots.length} kept)`,
      'max dir MiB': mib(Math.max(0, ...sizes.map((s) => s.bytes))),
      'max MiB, 2nd / 3rd third': `${third(1)} / ${third(2)}`,
      errors: errors.length + counter.errors(),
    };
  } finally {
    await store.close();
    await counter.close();
    await manager.close();
  }
}

const isReady = (line: string): boolean => line.startsWith('ready');
const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

/** Follows the log from 0 and counts ok results per event of queue `soak` (event ids are `n` in order). */
async function countResults(url: string, errors: string[]) {
  const store = await openStore(url);
  const controller = new AbortController();
  const eventN = new Map<string, number>();
  const okCount = new Map<number, number>();
  let snapshots = 0;
  let failures = 0;
  const following = (async () => {
    for await (const chunk of store.followChunks({ from: 0, signal: controller.signal })) {
      for (const r of chunk) {
        if (r.type === 'snapshot.taken') snapshots++;
        if (r.type === 'event.published') {
          const e = r as RecordOf<'event.published'>;
          if (e.queue === 'soak') eventN.set(e.eventId, (e.payload as { n: number }).n);
          continue;
        }
        if (r.type !== 'result.recorded' && r.type !== 'results.recorded') continue;
        for (const x of unbatched(r)) {
          const res = x as RecordOf<'result.recorded'>;
          if (res.subscriberId !== 'soak/work' || res.status !== 'ok') continue;
          const n = eventN.get(res.eventId);
          if (n !== undefined) okCount.set(n, (okCount.get(n) ?? 0) + 1);
        }
      }
    }
  })().catch((e: unknown) => {
    failures++;
    errors.push(`the counting follower failed: ${e instanceof Error ? e.message : String(e)}`);
  });
  return {
    ok: () => okCount.size,
    okOf: (published: number) => [...okCount.keys()].filter((n) => n < published).length,
    twice: () => [...okCount.values()].filter((c) => c > 1).length,
    snapshots: () => snapshots,
    errors: () => failures,
    close: async () => {
      controller.abort();
      await following;
      await store.close();
    },
  };
}

/** Samples the directory's size every second until stopped. */
function sampleSizes(dir: string, out: { at: number; bytes: number }[]): { stop: () => void } {
  const began = Date.now();
  const timer = setInterval(() => {
    void dirBytes(dir).then(
      (bytes) => out.push({ at: Date.now() - began, bytes }),
      () => undefined, // a file removed while it was listed: the next sample counts
    );
  }, 1000);
  return { stop: () => clearInterval(timer) };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await dirBytes(p);
    else total += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
