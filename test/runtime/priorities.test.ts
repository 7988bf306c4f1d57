import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, type QueueManager } from '../../index.js';
import { manager, memoryUrl } from '../support/manager.js';
import { until } from '../support/wait.js';

describe('priorities', () => {
  let store = '';

  const worker = (): Promise<QueueManager> => manager({ store });

  it('across 2 workers: higher priority first, FIFO within one priority', async () => {
    store = memoryUrl();
    const publisher = await worker();
    const q = publisher.queue<{ p: number; n: number }>('jobs');
    // Low first, then high and middle ones: the order of publishing is not the order of handling.
    for (let n = 0; n < 10; n++) await q.publish({ p: 0, n });
    for (let n = 0; n < 5; n++) await q.publish({ p: 5, n }, { priority: 5 });
    for (let n = 0; n < 5; n++) await q.publish({ p: 1, n }, { priority: 1 });
    await q.publish({ p: -1, n: 0 }, { priority: -1 });
    const order: { p: number; n: number }[] = [];
    const handle = async (e: { payload: { p: number; n: number } }): Promise<void> => {
      order.push(e.payload);
      await new Promise((r) => setTimeout(r, 5));
    };
    for (const m of [await worker(), await worker()]) {
      await m.queue<{ p: number; n: number }>('jobs').subscribe(handle, {
        name: 'w',
        from: 'earliest',
        concurrency: 1,
        prefetch: 0,
      });
    }
    await until(() => order.length === 21 || undefined, 'all handled', 10_000);
    const ps = order.map((e) => e.p);
    // Two workers start at once: each level is done before the next starts, give or take one running.
    const lastOf = (p: number): number => ps.lastIndexOf(p);
    const firstOf = (p: number): number => ps.indexOf(p);
    expect(lastOf(5)).toBeLessThan(firstOf(1) + 2);
    expect(lastOf(1)).toBeLessThan(firstOf(0) + 2);
    expect(lastOf(0)).toBeLessThan(firstOf(-1) + 2);
    expect(ps.at(-1)).toBe(-1);
    // FIFO within a priority (two workers may swap neighbours).
    for (const p of [5, 1, 0]) {
      const ns = order.filter((e) => e.p === p).map((e) => e.n);
      ns.forEach((n, i) => expect(Math.abs(n - i)).toBeLessThanOrEqual(1));
    }
    expect((await q.getEvent((await q.searchEvents()).items[10]!.id)).priority).toBe(5);
  });

  it('a bad priority is refused before anything is appended', async () => {
    store = memoryUrl();
    const q = (await worker()).queue('jobs');
    for (const bad of [1.5, 'high', 2e6, Number.NaN]) {
      await expect(q.publish({}, { priority: bad as number })).rejects.toThrow(InvalidArgumentError);
    }
    expect(await q.countEvents()).toBe(0);
  });
});
