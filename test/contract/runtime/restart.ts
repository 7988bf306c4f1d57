import { describe, expect, it } from 'vitest';
import type { QueueResult } from '../../../index.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function restartContract(h: RuntimeHarness): void {
  describe('runtime on the filesystem store', () => {
    it('competing: two managers on one directory handle every event once, each with one ok result', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const m2 = await h.manager({ store });
      const handled = new Map<number, number>();
      const handler = (e: { payload: number }) =>
        void handled.set(e.payload, (handled.get(e.payload) ?? 0) + 1);
      await m1.queue<number>('jobs').subscribe(handler, { name: 'w', concurrency: 5 });
      await m2.queue<number>('jobs').subscribe(handler, { name: 'w', concurrency: 5 });
      const N = 100;
      const events = await m1.queue<number>('jobs').publishMany(Array.from({ length: N }, (_, i) => i));
      await until(() => handled.size === N, 'all handled');
      const q = m2.queue<number>('jobs');
      const results: QueueResult[] = [];
      await until(async () => {
        results.length = 0;
        let pageId: string | null = null;
        do {
          const page: Awaited<ReturnType<typeof q.searchResults>> = await q.searchResults({ pageId });
          results.push(...page.items);
          pageId = page.nextPageId;
        } while (pageId !== null);
        return results.length >= N;
      }, 'all results');
      expect([...handled.values()].every((n) => n === 1)).toBe(true);
      expect(results.map((r) => r.eventId).sort()).toEqual(events.map((e) => e.id).sort());
      expect(results.every((r) => r.status === 'ok' && r.accepted)).toBe(true);
    });

    it('keeps subscribers, progress, keys and claims across a restart; the subscriber catches up', async () => {
      const store = await h.url();
      const seen: number[] = [];
      const m1 = await h.manager({ store });
      const q1 = m1.queue<number>('jobs');
      await q1.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      const keyed = await q1.publish(1, { key: 'once' });
      await q1.waitForResult(keyed.id);
      expect(await q1.createClaim('lock')).toBe(true);
      await m1.close();

      const m2 = await h.manager({ store });
      const q2 = m2.queue<number>('jobs');
      expect((await q2.searchSubscriptions()).items.map((s) => s.name)).toEqual(['w']);
      expect(await q2.publish(2, { key: 'once' })).toEqual(keyed);
      expect(await q2.createClaim('lock')).toBe(false);
      expect((await q2.getClaim('lock')).workerId).toBe(m1.workerId);
      const missed = await q2.publishMany([3, 4]);
      await m2.close();

      const m3 = await h.manager({ store });
      const q3 = m3.queue<number>('jobs');
      await q3.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      for (const e of missed) await q3.waitForResult(e.id);
      expect(seen).toEqual([1, 3, 4]);
      expect(await q3.countEvents()).toBe(3);
      expect(await q3.getEvent(keyed.id)).toEqual(keyed);
    });
  });
}
