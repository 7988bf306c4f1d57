import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isEventyError, TruncatedError } from '../../index.js';
import { manager } from '../support/manager.js';
import { tempDir } from '../support/temp.js';
import { until } from '../support/wait.js';

describe.each([
  ['memory', () => Promise.resolve(`memory:retention-${randomUUID()}?segmentRecords=16&retention=0s`)],
  ['filesystem', async () => `file:${await tempDir()}?segmentBytes=4096&retention=0s`],
])('snapshots and retention (%s)', (_name, url) => {
  it('the writer compacts after a snapshot; a restart starts from it, removed events answer not found', async () => {
    const store = await url();
    const m = await manager({ store, snapshotEvery: 60 });
    const q = m.queue<{ n: number }>('jobs');
    await q.subscribe(() => undefined, { name: 'w' });
    const parked = await m.queue('parked').publish({ keep: 'me' });
    const events = await q.publishMany(Array.from({ length: 120 }, (_, n) => ({ n })));
    for (const e of events) await q.waitForResult(e.id);
    const handled = m.inspect().position;
    // Records enough for a snapshot after every result (those of a queue nobody serves: they stay open).
    await m.queue('noise').publishMany(Array.from({ length: 61 }, (_, n) => ({ n })));
    await until(async () => {
      const [newest] = await m.store.listSnapshots();
      const first = await m.store.first();
      return newest !== undefined && newest.position > handled && first > events[0]!.position;
    }, 'a snapshot after the results, and the segments before it removed');
    const counts = m.inspect().subscribers.map(({ name, done, dead }) => ({ name, done, dead }));
    await m.close();

    const again = await manager({ store, fold: 'eager', snapshotEvery: 0 });
    const [newest] = await again.store.listSnapshots();
    expect(again.inspect().startedFrom).toBe(newest!.position);
    expect(again.inspect().subscribers.map(({ name, done, dead }) => ({ name, done, dead }))).toEqual(counts);
    const q2 = again.queue<{ n: number }>('jobs');
    await expect(q2.getEvent(events[0]!.id)).rejects.toSatisfy((e) => isEventyError(e, 'not-found'));
    expect((await again.queue('parked').getEvent(parked.id)).payload).toEqual({ keep: 'me' });
    await q2.subscribe(() => undefined, { name: 'w' });
    const next = await q2.publish({ n: 999 });
    expect((await q2.waitForResult(next.id)).status).toBe('ok');
  });

  it("manager.snapshot() applies the store's retention policy after the snapshot, as the workers' do", async () => {
    const store = await url();
    const m = await manager({ store, snapshotEvery: 0 });
    const q = m.queue<{ n: number }>('jobs');
    await q.subscribe(() => undefined, { name: 'w' });
    const events = await q.publishMany(Array.from({ length: 120 }, (_, n) => ({ n })));
    for (const e of events) await q.waitForResult(e.id);
    expect(await m.store.first()).toBe(0);

    const info = await m.snapshot();
    expect(info.compacted?.segments).toBeGreaterThan(0);
    expect(info.compacted?.keepFrom).toBe(info.position + 1);
    expect(await m.store.first()).toBe(info.compacted?.first);
    expect(info.compacted?.first).toBeGreaterThan(events[0]!.position);
    await m.close();

    const again = await manager({ store, fold: 'eager', snapshotEvery: 0 });
    expect(again.inspect().startedFrom).toBe(info.position);
    await expect(again.queue('jobs').getEvent(events[0]!.id)).rejects.toSatisfy((e) =>
      isEventyError(e, 'not-found'),
    );
  });

  it('manager.snapshot() on a store without a retention policy removes nothing', async () => {
    const store = (await url()).replace('&retention=0s', '');
    const m = await manager({ store, snapshotEvery: 0 });
    const q = m.queue<{ n: number }>('jobs');
    await q.publishMany(Array.from({ length: 120 }, (_, n) => ({ n })));
    const info = await m.snapshot();
    expect(info.compacted).toBeUndefined();
    expect(await m.store.first()).toBe(0);
  });

  it('without a usable snapshot a start on a truncated log fails with truncated', async () => {
    const store = await url();
    const m = await manager({ store, snapshotEvery: 60 });
    const q = m.queue<{ n: number }>('jobs');
    await q.subscribe(() => undefined, { name: 'w' });
    for (const e of await q.publishMany(Array.from({ length: 120 }, (_, n) => ({ n })))) {
      await q.waitForResult(e.id);
    }
    await until(async () => (await m.store.first()) > 0, 'segments removed');
    for (const s of await m.store.listSnapshots()) await m.store.deleteSnapshot(s.ref);
    await m.close();
    await expect(manager({ store, fold: 'eager' })).rejects.toBeInstanceOf(TruncatedError);
  });
});
