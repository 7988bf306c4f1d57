import { describe, expect, it } from 'vitest';
import { Subscriber, type HandlerContext, type QueueEvent, type RecordOf } from '../../../index.js';
import { readAll } from '../../support/log.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function subscribersContract(h: RuntimeHarness): void {
  describe('subscribers in the log', () => {
    it('shows registrations to a manager started later', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      await m1.queue('orders').subscribe(() => undefined, {
        name: 'bill',
        filter: 'payload.total > `1`',
        delivery: 'competing',
        timeout: 500,
        retry: { limit: 2, minBackoff: 5, maxBackoff: 50 },
      });
      await m1.queue('orders').subscribe(() => undefined, { name: 'print', delivery: 'broadcast' });
      await m1.queue('other').subscribe(() => undefined, { name: 'elsewhere' });

      const m2 = await h.manager({ store });
      const page = await m2.queue('orders').searchSubscriptions();
      expect(page.nextPageId).toBeNull();
      expect(page.items.map((s) => s.name)).toEqual(['bill', 'print']);
      expect(page.items[0]).toMatchObject({
        subscriberId: 'orders/bill',
        queue: 'orders',
        delivery: 'competing',
        filter: { expressions: ['payload.total > `1`'], operator: 'all' },
        retry: { limit: 2, minBackoff: 5, maxBackoff: 50 },
        timeout: 500,
      });
      expect(page.items[1]?.delivery).toBe('broadcast');
      const first = await m2.queue('orders').searchSubscriptions({ limit: 1 });
      expect(first.items.map((s) => s.name)).toEqual(['bill']);
      const second = await m2.queue('orders').searchSubscriptions({ limit: 1, pageId: first.nextPageId });
      expect(second.items.map((s) => s.name)).toEqual(['print']);
      expect(second.nextPageId).toBeNull();
    });

    it('starts a new subscriber at the head with from "new", at the start with "earliest", or at a position', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const before = await q.publishMany([1, 2, 3]);
      const seen = new Map<string, number[]>();
      const keep = (name: string) => (e: QueueEvent<number>) =>
        void seen.set(name, [...(seen.get(name) ?? []), e.payload]);
      await q.subscribe(keep('new'), { name: 'new', from: 'new' });
      await q.subscribe(keep('default'), { name: 'default' });
      await q.subscribe(keep('earliest'), { name: 'earliest', from: 'earliest' });
      await q.subscribe(keep('at'), { name: 'at', from: before[1]!.position });
      const after = await q.publish(4);
      for (const name of ['new', 'default', 'earliest', 'at'])
        await q.waitForResult(after.id, { subscriber: name });
      await until(
        () => (seen.get('earliest')?.length ?? 0) === 4 && (seen.get('at')?.length ?? 0) === 3,
        'all',
      );
      expect(seen.get('new')).toEqual([4]);
      expect(seen.get('default')).toEqual([4]);
      expect([...(seen.get('earliest') ?? [])].sort()).toEqual([1, 2, 3, 4]);
      expect([...(seen.get('at') ?? [])].sort()).toEqual([2, 3, 4]);
    });

    it('catches up after being offline: stop, publish, subscribe again under the same name', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const seen: number[] = [];
      const sub = await q.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      const e1 = await q.publish(1);
      await q.waitForResult(e1.id);
      await sub.stop();
      const missed = await q.publishMany([2, 3, 4]);
      // registered but not hosted: nobody runs them
      await new Promise((r) => setTimeout(r, 30));
      expect(seen).toEqual([1]);
      expect((await q.getResults(missed[0]!.id)).length).toBe(0);

      const headBefore = await m.store.head();
      await q.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      for (const e of missed) await q.waitForResult(e.id);
      expect([...seen].sort()).toEqual([1, 2, 3, 4]);
      // the same registration is reused: no second subscriber.registered
      const regs = (await readAll(m)).filter((r) => r.type === 'subscriber.registered');
      expect(regs).toHaveLength(1);
      expect(headBefore).toBeGreaterThan(0);
    });

    it('keeps the start and progress when a subscriber comes back with changed options', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const seen: number[] = [];
      const sub = await q.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      const e1 = await q.publish(1);
      await q.waitForResult(e1.id);
      await sub.stop();
      const start = (await q.searchSubscriptions()).items[0]?.startPosition;
      const missed = await q.publishMany([2, 3]);
      await q.subscribe((e) => void seen.push(e.payload), { name: 'w', timeout: 1_000, from: 'earliest' });
      for (const e of missed) await q.waitForResult(e.id);
      expect([...seen].sort()).toEqual([1, 2, 3]); // event 1 not run again
      const [reg] = (await q.searchSubscriptions()).items;
      expect(reg?.timeout).toBe(1_000);
      expect(reg?.startPosition).toBe(start);
      expect((await readAll(m)).filter((r) => r.type === 'subscriber.registered')).toHaveLength(2);
    });

    it('catches up across a restart of the whole manager on the same log', async () => {
      const store = await h.url();
      const seen: number[] = [];
      const m1 = await h.manager({ store });
      await m1.queue<number>('jobs').subscribe((e) => void seen.push(e.payload), { name: 'w' });
      const e0 = await m1.queue<number>('jobs').publish(0);
      await m1.queue('jobs').waitForResult(e0.id);
      await m1.close();

      const publisher = await h.manager({ store });
      await publisher.queue<number>('jobs').publishMany([1, 2]);

      const m2 = await h.manager({ store });
      const q = m2.queue<number>('jobs');
      await q.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      await until(() => seen.length === 3, 'caught up');
      expect([...seen].sort()).toEqual([0, 1, 2]);
    });

    it('unsubscribes once: true, then false; appends subscriber.deleted and stops handling', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const seen: number[] = [];
      const sub = await q.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      const e1 = await q.publish(1);
      await q.waitForResult(e1.id);
      expect(await sub.unsubscribe()).toBe(true);
      expect(await sub.unsubscribe()).toBe(false);
      const deleted = (await readAll(m)).filter((r) => r.type === 'subscriber.deleted');
      expect(deleted).toHaveLength(1);
      expect((deleted[0] as RecordOf<'subscriber.deleted'>).subscriberId).toBe('jobs/w');
      expect((await q.searchSubscriptions()).items).toEqual([]);
      await q.publish(2);
      await new Promise((r) => setTimeout(r, 30));
      expect(seen).toEqual([1]);
    });

    it('runs a Subscriber class with its options, named after the class by default', async () => {
      const m = await h.manager();
      const q = m.queue<{ total: number }>('orders');
      const seen: number[] = [];
      class BigOrders extends Subscriber<{ total: number }> {
        override readonly options = { filter: 'payload.total > `10`' };
        override onEvent(event: QueueEvent<{ total: number }>, ctx: HandlerContext): void {
          expect(ctx.subscriber).toBe('BigOrders');
          seen.push(event.payload.total);
        }
      }
      const sub = await q.subscribe(new BigOrders());
      expect(sub).toMatchObject({ name: 'BigOrders', subscriberId: 'orders/BigOrders', queue: 'orders' });
      const [small, big] = await q.publishMany([{ total: 5 }, { total: 50 }]);
      expect((await q.waitForResult(small!.id)).status).toBe('skipped');
      expect((await q.waitForResult(big!.id)).status).toBe('ok');
      expect(seen).toEqual([50]);
    });
  });
}
