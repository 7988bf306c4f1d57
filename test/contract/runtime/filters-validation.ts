import { describe, expect, it } from 'vitest';
import { createQueueManager, type StandardSchemaV1 } from '../../../index.js';
import { subscriberRow } from '../../support/inspect.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function filtersValidationContract(h: RuntimeHarness): void {
  interface Order {
    readonly total: number;
    readonly name?: string;
  }

  /** Publishes orders, waits for every event's final result for `subscriber`, and returns what ran. */
  async function route(
    options: { filter: string | string[]; operator?: 'all' | 'any' },
    orders: { payload: Order; vip?: boolean }[],
  ) {
    const m = await h.manager();
    const q = m.queue<Order>('orders');
    const ran: number[] = [];
    await q.subscribe((e) => void ran.push(e.payload.total), { name: 'bill', ...options });
    const events = [];
    for (const o of orders) events.push(await q.publish(o.payload, o.vip ? { headers: { vip: 'yes' } } : {}));
    const results = await Promise.all(events.map((e) => q.waitForResult(e.id)));
    return { ran, statuses: results.map((r) => r.status), m };
  }

  describe('filters', () => {
    it('runs the handler only for events that match a JMESPath filter; the rest get a skipped result', async () => {
      const { ran, statuses, m } = await route({ filter: 'payload.total > `100`' }, [
        { payload: { total: 50 } },
        { payload: { total: 150 } },
        { payload: { total: 100 } },
      ]);
      expect(ran).toEqual([150]);
      expect(statuses).toEqual(['skipped', 'ok', 'skipped']);
      expect(subscriberRow(m, 'orders', 'bill')).toMatchObject({ skipped: 2, done: 1 });
    });

    it('combines several expressions with operator all', async () => {
      const { ran, statuses } = await route({ filter: ['payload.total > `100`', "headers.vip == 'yes'"] }, [
        { payload: { total: 150 } },
        { payload: { total: 150 }, vip: true },
        { payload: { total: 50 }, vip: true },
      ]);
      expect(ran).toEqual([150]);
      expect(statuses).toEqual(['skipped', 'ok', 'skipped']);
    });

    it('combines several expressions with operator any', async () => {
      const { ran, statuses } = await route(
        { filter: ['payload.total > `100`', "headers.vip == 'yes'"], operator: 'any' },
        [{ payload: { total: 150 } }, { payload: { total: 50 }, vip: true }, { payload: { total: 50 } }],
      );
      expect(ran).toEqual([150, 50]);
      expect(statuses).toEqual(['ok', 'ok', 'skipped']);
    });

    it('counts an expression that fails to evaluate on an event as no match', async () => {
      const { ran, statuses } = await route({ filter: 'abs(payload.name) > `1`' }, [
        { payload: { total: 1, name: 'text' } },
      ]);
      expect(ran).toEqual([]);
      expect(statuses).toEqual(['skipped']);
    });

    it('rejects a bad JMESPath expression with invalid-argument before anything is appended', async () => {
      const m = await h.manager();
      const q = m.queue('orders');
      const head = await m.store.head();
      let calls = 0;
      await expect(
        q.subscribe(
          () => {
            calls++;
          },
          { name: 'bad', filter: 'payload.[' },
        ),
      ).rejects.toMatchObject({
        code: 'invalid-argument',
      });
      await expect(
        q.subscribe(
          () => {
            calls++;
          },
          { name: 'bad', filter: ['payload.ok', 'payload.total >'] },
        ),
      ).rejects.toMatchObject({ code: 'invalid-argument' });
      expect(await m.store.head()).toBe(head);
      expect((await q.searchSubscriptions()).items).toEqual([]);
      await q.publish(1);
      await new Promise((r) => setTimeout(r, 20));
      expect(calls).toBe(0);
    });
  });

  describe('option checks', () => {
    it('rejects unknown subscribe, retry, publish, queue and manager options with invalid-argument, appending nothing', async () => {
      const m = await h.manager();
      const q = m.queue('orders');
      const head = await m.store.head();
      const handler = () => undefined;
      const bad = { name: 'x', concurency: 2 } as unknown as Parameters<typeof q.subscribe>[1];
      await expect(q.subscribe(handler, bad)).rejects.toMatchObject({
        code: 'invalid-argument',
        message: expect.stringContaining('concurency') as unknown,
      });
      const badRetry = { name: 'x', retry: { limits: 2 } } as unknown as Parameters<typeof q.subscribe>[1];
      await expect(q.subscribe(handler, badRetry)).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(
        q.subscribe(handler, { name: 'x', delivery: 'fanout' as 'broadcast' }),
      ).rejects.toMatchObject({
        code: 'invalid-argument',
      });
      await expect(q.subscribe(handler, { name: 'x', from: 'latest' as 'new' })).rejects.toMatchObject({
        code: 'invalid-argument',
      });
      await expect(q.subscribe(handler, { name: 'x', concurrency: 0 })).rejects.toMatchObject({
        code: 'invalid-argument',
      });
      await expect(
        q.subscribe(handler, { name: 'x', retry: { minBackoff: 10, maxBackoff: 5 } }),
      ).rejects.toMatchObject({ code: 'invalid-argument' });
      const badPublish = { dealy: 5 } as unknown as Parameters<typeof q.publish>[1];
      await expect(q.publish(1, badPublish)).rejects.toMatchObject({
        code: 'invalid-argument',
        message: expect.stringContaining('dealy') as unknown,
      });
      expect(() => m.queue('other', { shema: {} } as never)).toThrow(/unknown queue option "shema"/);
      await expect(
        createQueueManager({ store: 'memory:', handleSignals: false, leaseMS: 5 } as never),
      ).rejects.toMatchObject({ code: 'invalid-argument' });
      expect(await m.store.head()).toBe(head);
    });
  });

  /** A hand-written Standard Schema v1: `{ total: number ≥ 0 }`, trimming an optional name. */
  const orderSchema: StandardSchemaV1<unknown, Order> = {
    '~standard': {
      version: 1,
      vendor: 'eventy-test',
      validate(value) {
        const v = value as { total?: unknown; name?: unknown } | null;
        if (typeof v !== 'object' || v === null) return { issues: [{ message: 'expected an object' }] };
        if (typeof v.total !== 'number' || v.total < 0)
          return { issues: [{ message: 'must be a number ≥ 0', path: ['total'] }] };
        return {
          value: { total: v.total, ...(typeof v.name === 'string' ? { name: v.name.trim() } : {}) },
        };
      },
    },
  };

  describe('schema validation', () => {
    it('rejects a payload failing its Standard Schema with validation-failed and appends nothing', async () => {
      const m = await h.manager();
      const q = m.queue<Order>('orders', { schema: orderSchema });
      const head = await m.store.head();
      const err: unknown = await q.publish({ total: -1 }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'validation-failed',
        issues: [{ message: 'must be a number ≥ 0', path: ['total'] }],
      });
      await expect(q.publishMany([{ total: 1 }, 'nope' as unknown as Order])).rejects.toMatchObject({
        code: 'validation-failed',
      });
      expect(await m.store.head()).toBe(head);
      expect(await q.countEvents()).toBe(0);
    });

    it('stores the value the schema returns', async () => {
      const m = await h.manager();
      const q = m.queue<Order>('orders', { schema: orderSchema });
      const seen: Order[] = [];
      await q.subscribe((e) => void seen.push(e.payload), { name: 'keep' });
      const e = await q.publish({ total: 3, name: '  Ada  ', extra: true } as Order);
      expect(e.payload).toEqual({ total: 3, name: 'Ada' });
      expect((await q.getEvent(e.id)).payload).toEqual({ total: 3, name: 'Ada' });
      await until(() => seen.length === 1, 'handled');
      expect(seen).toEqual([{ total: 3, name: 'Ada' }]);
    });
  });
}
