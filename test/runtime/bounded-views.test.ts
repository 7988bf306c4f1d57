import { afterEach, describe, expect, it } from 'vitest';
import { createQueueManager, dispatchFold, foldAll, type StoredRecord } from '../../index.js';
import { compaction } from '../../projections/dispatch/event-index.js';

const defaults = { ...compaction };
afterEach(() => Object.assign(compaction, defaults));

describe('queries once the dispatch view dropped finished events', () => {
  it('search and count every event of the queue, keyed twins aside, as before', async () => {
    Object.assign(compaction, { every: 1, least: 1 }); // compact a short log at every chance
    const m = await createQueueManager({ store: 'memory:', handleSignals: false });
    try {
      const q = m.queue<number>('jobs');
      await q.subscribe(() => undefined, { name: 'w' });
      for (let i = 0; i < 20; i++) {
        const e = await q.publish(i, i === 5 ? { key: 'k' } : {});
        await q.waitForResult(e.id);
      }
      await q.publish(99, { key: 'k' }); // a keyed twin: not an event of its own
      const last = await q.publish(20);
      await q.waitForResult(last.id);
      const log: StoredRecord[] = [];
      for await (const r of m.store.read()) log.push(r);
      // The manager folds the same log with the same rule: its view dropped what was finished.
      expect(foldAll(dispatchFold, log).queues.get('jobs')?.base).toBeGreaterThan(10);

      const all = Array.from({ length: 21 }, (_, i) => i);
      expect(await q.countEvents()).toBe(21);
      expect(await q.countEvents({ publishedAfter: 0 })).toBe(21);
      expect((await q.searchEvents({ limit: 100 })).items.map((e) => e.payload)).toEqual(all);
      const first = await q.searchEvents({ limit: 8 });
      const next = await q.searchEvents({ limit: 100, pageId: first.nextPageId! });
      expect([...first.items, ...next.items].map((e) => e.payload)).toEqual(all);
      const [sub] = (await q.searchSubscriptions()).items;
      expect(sub).toMatchObject({ depth: 0, inFlight: 0, done: 21 });
    } finally {
      await m.close();
    }
  });
});
