import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createQueueManager, InterruptedError, openStore, type QueueManager } from '../../index.js';
import { until } from '../support/wait.js';

describe('ends that can be awaited', () => {
  let manager: QueueManager;
  beforeEach(async () => {
    manager = await createQueueManager({ store: 'memory:', handleSignals: false });
  });
  afterEach(() => manager.close());

  it('an End published before the consumer starts: it handles exactly the earlier events, then done resolves', async () => {
    const q = manager.queue<{ n: number }>('work');
    for (let n = 0; n < 5; n++) await q.publish({ n });
    expect(await q.end({ wait: false })).toEqual({ drained: false });
    await q.publish({ n: 99 }); // after End: not for this consumer
    const seen: number[] = [];
    const sub = await q.subscribe((e) => void seen.push(e.payload.n), { name: 'consumer', from: 'earliest' });
    await sub.done;
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
    expect(manager.inspect().hosted[0]?.stopped).toBe(true);
    await manager.drained();
  });

  it('an End after the start drains what came before it; it stays in force for later workers until a publish', async () => {
    const q = manager.queue<{ n: number }>('work');
    const seen: number[] = [];
    const sub = await q.subscribe((e) => void seen.push(e.payload.n), { name: 'c' });
    await q.publish({ n: 1 });
    await q.publish({ n: 2 });
    expect(await q.end({ timeout: 10_000 })).toEqual({ drained: true });
    await sub.done;
    expect(seen).toEqual([1, 2]);
    // The queue is still ended (nothing published since): a worker started now has nothing left before
    // the End and stops at once, as `eventy run` needs for its late or restarted processes.
    const late = await q.subscribe((e) => void seen.push(e.payload.n), { name: 'c' });
    await late.done;
    const broadcast = await q.subscribe((e) => void seen.push(e.payload.n), {
      name: 'fan',
      delivery: 'broadcast',
    });
    await broadcast.done;
    expect(manager.inspect().hosted.every((h) => h.stopped)).toBe(true);
    await manager.drained();
    // A publish after the End reopens the queue: a worker started after it goes on with the new events.
    const e = await q.publish({ n: 3 });
    const again = await q.subscribe((x) => void seen.push(x.payload.n), { name: 'c' });
    await q.waitForResult(e.id);
    expect(seen).toEqual([1, 2, 3]);
    expect(manager.inspect().hosted.find((h) => !h.stopped)).toBeDefined();
    const f = await q.publish({ n: 4 });
    await q.waitForResult(f.id);
    expect(seen).toEqual([1, 2, 3, 4]);
    await again.stop();
  });

  it('an interrupt after the End ends its hold: a worker started later goes on', async () => {
    const q = manager.queue<{ n: number }>('work');
    expect(await q.end({ wait: false })).toEqual({ drained: false });
    await q.interrupt();
    const seen: number[] = [];
    const sub = await q.subscribe((e) => void seen.push(e.payload.n), { name: 'c' });
    const e = await q.publish({ n: 1 });
    await q.waitForResult(e.id);
    expect(seen).toEqual([1]);
    await sub.stop();
  });

  it('an interrupt rejects done, and applies even when stop() follows it at once', async () => {
    const q = manager.queue<{ n: number }>('slow');
    let started = 0;
    const sub = await q.subscribe(
      async (_e, ctx) => {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 2000));
        if (ctx.signal.aborted) throw ctx.signal.reason;
        return 'finished anyway';
      },
      { name: 'w', concurrency: 2 },
    );
    const done = sub.done;
    const events = [await q.publish({ n: 1 }), await q.publish({ n: 2 })];
    await until(() => started === 2 || undefined, 'both running', 5000);
    await q.interrupt();
    await sub.stop(); // at once: the interrupt must still reach the running handlers
    await expect(done).rejects.toBeInstanceOf(InterruptedError);
    for (const e of events) {
      const [result] = await q.getResults(e.id);
      expect(result).toMatchObject({ status: 'failed', error: { name: 'InterruptedError' } });
    }
  });

  it('ctx.publish works while the manager drains: no follow-up is lost', async () => {
    const store = await openStore('memory:');
    const draining = await createQueueManager({ store, ownsStore: false, handleSignals: false });
    const q = draining.queue<{ n: number }>('chain');
    const started: number[] = [];
    await q.subscribe(
      async (e, ctx) => {
        if (e.payload.n >= 100) return;
        started.push(e.payload.n);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await ctx.publish({ n: e.payload.n + 100 });
      },
      { name: 'w', concurrency: 4 },
    );
    const events = await Promise.all([1, 2, 3].map((n) => q.publish({ n })));
    await until(() => started.length === 3 || undefined, 'all running', 5000);
    await draining.close(); // drains while the handlers publish their follow-ups
    const check = await createQueueManager({ store, handleSignals: false });
    try {
      const cq = check.queue<{ n: number }>('chain');
      const all = await cq.searchEvents();
      expect(all.items.map((e) => e.payload.n).sort((a, b) => a - b)).toEqual([1, 2, 3, 101, 102, 103]);
      for (const e of events) expect((await cq.getResults(e.id)).map((r) => r.status)).toEqual(['ok']);
    } finally {
      await check.close();
    }
  });
});
