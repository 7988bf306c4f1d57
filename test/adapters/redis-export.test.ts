import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { openRedisStore } from '../../adapters/redis/index.js';
import {
  dispatchFold,
  createQueueManager,
  foldAll,
  statsFold,
  workersFold,
  type DispatchState,
  type StoredRecord,
  type LogStore,
} from '../../index.js';
import { readAll } from '../support/log.js';
import { tempDir } from '../support/temp.js';
import { deletePrefix, keysUnder, REDIS_URL, uniquePrefix } from '../support/redis.js';

const prefixes: string[] = [];

function prefix(): string {
  const p = uniquePrefix();
  prefixes.push(p);
  return p;
}

afterAll(async () => {
  for (const p of prefixes) {
    await deletePrefix(p);
    expect(await keysUnder(p)).toEqual([]);
  }
});

/** Copies a whole log into an empty store, in replicate calls of `chunk` records. */
async function copy(records: readonly StoredRecord[], into: LogStore, chunk: number): Promise<void> {
  for (let i = 0; i < records.length; i += chunk) await into.replicate(records.slice(i, i + chunk));
}

/**
 * Runs a real workload on a Redis log: events published one by one and in a batch, with headers, an
 * idempotency key and a delay; a competing subscriber that fails each third event once (then retries)
 * and one event for good (dead); a filtered subscriber (skipped results); a raw claim; a clean shutdown.
 */
async function scenario(url: string): Promise<void> {
  await using m = await createQueueManager({
    store: url,
    handleSignals: false,
    leaseMs: 5000,
    heartbeatMs: 1000,
    spreadGraceMs: 20,
    shutdownTimeout: 2000,
  });
  const q = m.queue<{ n: number }>('orders');
  const retry = { limit: 2, minBackoff: 5, maxBackoff: 20 };
  await q.subscribe(
    (event, ctx) => {
      const { n } = event.payload;
      if (n === 7 || (n % 3 === 0 && ctx.attempt === 1)) throw new Error(`order ${n} failed`);
      return { n, attempt: ctx.attempt };
    },
    { name: 'bill', retry, from: 'earliest' },
  );
  await q.subscribe((event) => ({ shipped: event.payload.n }), {
    name: 'ship',
    filter: 'payload.n >= `10`',
    from: 'earliest',
  });
  const events = await q.publishMany(
    Array.from({ length: 20 }, (_, n) => ({ n })),
    { correlationId: 'batch-1', headers: { source: 'test' } },
  );
  const keyed = await q.publish({ n: 20 }, { key: 'order-20' });
  const twin = await q.publish({ n: 20 }, { key: 'order-20' });
  expect(twin.id).toBe(keyed.id);
  const delayed = await q.publish({ n: 21 }, { delay: 30 });
  expect(await q.createClaim('invoice-run', { by: 'test' })).toBe(true);
  expect(await q.createClaim('invoice-run')).toBe(false);
  for (const e of [...events, keyed, delayed]) {
    const bill = await q.waitForResult(e.id, { subscriber: 'bill' });
    expect(bill.status, `bill ${e.payload.n}`).toBe(e.payload.n === 7 ? 'failed' : 'ok');
    const ship = await q.waitForResult(e.id, { subscriber: 'ship' });
    expect(ship.status, `ship ${e.payload.n}`).toBe(e.payload.n >= 10 ? 'ok' : 'skipped');
  }
}

/** The parts of the claims view that carry meaning (what dispatch and the CLI read). */
function claimsSummary(state: DispatchState): unknown {
  return {
    subscribers: [...state.subscribers.values()].map((s) => ({
      id: s.id,
      counts: s.counts,
      finishedBelow: s.finishedBelow,
      items: [...s.items.entries()],
      dead: s.dead,
      deleted: s.deleted,
    })),
    queues: [...state.queues.values()],
    tokens: [...state.tokens.entries()],
    rejected: [...state.rejected],
    time: state.time,
    position: state.position,
  };
}

function views(records: readonly StoredRecord[]): unknown {
  return {
    claims: claimsSummary(foldAll(dispatchFold, records)),
    stats: foldAll(statsFold, records),
    workers: foldAll(workersFold, records),
  };
}

describe('redis log export and import through the filesystem store', () => {
  it('keeps every record (with its position and time) and every folded view', async () => {
    const source = prefix();
    // Small segments on both sides, of different sizes: the copies cross many segment boundaries.
    await scenario(`${REDIS_URL}?prefix=${source}&segmentRecords=16`);

    await using redis = await openRedisStore(REDIS_URL, { keyPrefix: source });
    const original = await readAll(redis);
    // the workload left what the views are compared on
    const claims = foldAll(dispatchFold, original);
    // 8 events fail once (n % 3 = 0), n = 7 fails all 3 attempts and dies
    expect(claims.subscribers.get('orders/bill')?.counts).toMatchObject({ done: 21, failed: 11, dead: 1 });
    expect(claims.subscribers.get('orders/ship')?.counts).toMatchObject({ done: 12, skipped: 10 });
    expect(claims.tokens.size).toBe(1);
    expect(original.some((r) => r.type === 'worker.left')).toBe(true);

    const dir = await tempDir('eventy-export-');
    await using file = await openFileStore(`file:${join(dir, 'log')}`, { segmentBytes: 4096 });
    await copy(original, file, 37);
    const exported = await readAll(file);
    expect(exported).toEqual(original);
    expect(await file.head()).toBe(original.length);

    await using back = await openRedisStore(REDIS_URL, { keyPrefix: prefix(), segmentRecords: 10 });
    await copy(exported, back, 1000);
    const imported = await readAll(back);
    expect(imported).toEqual(original);
    expect(await back.head()).toBe(original.length);

    const expected = views(original);
    expect(views(exported)).toEqual(expected);
    expect(views(imported)).toEqual(expected);
    // and the whole claims state, not only its summary
    expect(foldAll(dispatchFold, imported)).toEqual(claims);

    // the copy is a live log: appends go on after the imported history, at a time not before its last
    const last = original.at(-1) as StoredRecord;
    const next = await back.append([{ type: 'control.end', queue: 'orders', timeout: 0 }]);
    expect(next.positions).toEqual([original.length]);
    expect(next.time).toBeGreaterThanOrEqual(last.time);
  });
});
