import { afterEach, describe, expect, it } from 'vitest';
import {
  BAD_SNAPSHOT,
  claimRows,
  encodeSnapshot,
  foldAll,
  initialStates,
  reservationRows,
  statsRows,
  subscriberRows,
  viewsFold,
  workerRows,
  type QueueManager,
  type RecordOf,
} from '../../index.js';
import { Children } from '../support/children.js';
import { readAll } from '../support/log.js';
import { manager, memoryUrl } from '../support/manager.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { tempDir } from '../support/temp.js';
import { until } from '../support/wait.js';

/** The views of `m` as rows, beside the same rows of a fold of its whole log from position 0. */
async function rowsAndFromZero(m: QueueManager) {
  const { position, time, subscribers, claims, workers, stats, reservations } = m.inspect();
  const v = foldAll(viewsFold, await readAll(m, { to: position + 1 }));
  expect(v.time).toBe(time);
  return {
    live: { subscribers, claims, workers, stats, reservations },
    fromZero: {
      subscribers: subscriberRows(v),
      claims: claimRows(v),
      workers: workerRows(v),
      stats: statsRows(v),
      reservations: reservationRows(v),
    },
  };
}

/** A worker that handles `jobs` (every fifth fails for good), with events left open on two queues. */
async function history(store: string) {
  const m = await manager({ store, snapshotEvery: 0 });
  const q = m.queue<{ n: number }>('jobs');
  await q.subscribe(
    (e) => {
      if (e.payload.n % 5 === 0) throw new Error('five');
    },
    { name: 'w', retry: { limit: 0, minBackoff: 1, maxBackoff: 1 } },
  );
  const events = await q.publishMany(Array.from({ length: 30 }, (_, n) => ({ n })));
  await q.publish({ n: 1 }, { delay: 3_600_000 }); // open: delayed for an hour
  const parked = await m.queue('parked').publish({ hello: 'world' }, { headers: { key: 'k1' } });
  for (const e of events) await q.waitForResult(e.id);
  return { m, q, events, parked };
}

/** Key prefixes of the Redis logs made here, deleted after each test. */
const redisPrefixes: string[] = [];
const warnings: Error[] = [];
const onWarning = (w: Error): void => void warnings.push(w);
process.on('warning', onWarning);
afterEach(() => void warnings.splice(0));

describe.each([
  ['memory', () => Promise.resolve(memoryUrl())],
  ['filesystem', async () => `file:${await tempDir()}`],
])('snapshots (%s)', (_name, url) => {
  it('a manager started from a snapshot has the views and query answers of a fold from 0', async () => {
    const store = await url();
    const { m, q, events, parked } = await history(store);
    const taken = await m.snapshot();
    expect(taken.events).toBeGreaterThanOrEqual(2); // the delayed one and the parked one at least
    const later = await q.publish({ n: 99 });
    await q.waitForResult(later.id);
    const before = {
      event: await q.getEvent(events[3]!.id),
      results: await q.getResults(events[5]!.id),
      parked: await m.queue('parked').getEvent(parked.id),
      count: await q.countEvents(),
    };
    await m.close();

    const again = await manager({ store, fold: 'eager', snapshotEvery: 0 });
    expect(again.inspect().startedFrom).toBe(taken.position);
    const { live, fromZero } = await rowsAndFromZero(again);
    expect(live).toEqual(fromZero);
    const q2 = again.queue<{ n: number }>('jobs');
    expect(await q2.getEvent(events[3]!.id)).toEqual(before.event);
    expect(await q2.getResults(events[5]!.id)).toEqual(before.results);
    expect(await again.queue('parked').getEvent(parked.id)).toEqual(before.parked);
    expect(await q2.countEvents()).toBe(before.count);
    // It goes on dispatching from there.
    await q2.subscribe(() => undefined, { name: 'w', retry: { limit: 0, minBackoff: 1, maxBackoff: 1 } });
    const next = await q2.publish({ n: 100 });
    expect((await q2.waitForResult(next.id)).status).toBe('ok');
  });

  it('skips a damaged snapshot and one of a newer formatVersion with a warning, and uses the older one', async () => {
    const store = await url();
    const { m, q } = await history(store);
    const good = await m.snapshot();
    const e = await q.publish({ n: 1 });
    await q.waitForResult(e.id);
    const { bytes } = encodeSnapshot({
      position: good.position + 1,
      time: 0,
      states: initialStates(),
      events: [],
    });
    const damaged = Uint8Array.from(bytes);
    damaged[damaged.length - 3] = (damaged[damaged.length - 3] as number) ^ 0xff;
    const newer = Uint8Array.from(bytes);
    newer[5] = 2; // formatVersion 2
    const head = m.inspect().position;
    await m.store.putSnapshot(head - 1, damaged);
    await m.store.putSnapshot(head, newer);
    await m.close();

    const again = await manager({ store, fold: 'eager', snapshotEvery: 0 });
    expect(again.inspect().startedFrom).toBe(good.position);
    const bad = await until(() => {
      const found = warnings.filter((w) => (w as Error & { code?: string }).code === BAD_SNAPSHOT);
      return found.length >= 2 && found;
    }, 'two warnings');
    expect(bad.map((w) => w.message)).toEqual([
      expect.stringMatching(/formatVersion 2, expected 1/),
      expect.stringMatching(/checksum .* expected/),
    ]);
    const { live, fromZero } = await rowsAndFromZero(again);
    expect(live).toEqual(fromZero);
  });

  it('the oldest live worker writes one every snapshotEvery records', async () => {
    const store = await url();
    const m = await manager({ store, snapshotEvery: 40 });
    const q = m.queue<{ n: number }>('jobs');
    await q.subscribe(() => undefined, { name: 'w' });
    const events = await q.publishMany(Array.from({ length: 60 }, (_, n) => ({ n })));
    for (const e of events) await q.waitForResult(e.id);
    const taken = await until(async () => {
      const rs = (await readAll(m)).filter(
        (r) => r.type === 'snapshot.taken',
      ) as RecordOf<'snapshot.taken'>[];
      return rs.length > 0 && rs;
    }, 'a snapshot.taken');
    expect((await m.store.listSnapshots()).map((s) => s.ref)).toContain(taken[0]!.ref);
  });
});

describe.each([
  ['filesystem', async () => `file:${await tempDir()}`],
  [
    'Redis',
    () => {
      const prefix = uniquePrefix();
      redisPrefixes.push(prefix);
      return Promise.resolve(`${REDIS_URL}?prefix=${prefix}`);
    },
  ],
])('a snapshot writer killed while it writes (%s)', (_name, url) => {
  const children = new Children();
  afterEach(() => children.killAll());
  afterEach(() => Promise.all(redisPrefixes.splice(0).map((p) => deletePrefix(p))));

  it('restarts from the newest complete snapshot, folds to the views of a fold from 0, loses nothing', async () => {
    const store = await url();
    const child = children.spawn('snapshot-writer', [store]);
    await child.waitForLine((l) => l.startsWith('snapshot ') && child.lines.length >= 3);
    await new Promise((r) => setTimeout(r, 37 + Math.random() * 50)); // kill it at some point of a write
    child.proc.kill('SIGKILL');
    await child.exited;
    const again = await manager({ store, fold: 'eager', snapshotEvery: 0 });
    const listed = await again.store.listSnapshots();
    expect(again.inspect().startedFrom).toBe(listed[0]!.position);
    const { live, fromZero } = await rowsAndFromZero(again);
    expect(live).toEqual(fromZero);
    // Every event published is there, and the parked ones can be read.
    const published = (await readAll(again)).filter(
      (r) => r.type === 'event.published',
    ) as RecordOf<'event.published'>[];
    expect(await again.queue('parked').countEvents()).toBe(
      published.filter((r) => r.queue === 'parked').length,
    );
    await again.close(); // before its keys are deleted
  });
});
