import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createQueueManager, InvalidArgumentError, KEY_TTL_MS, type QueueManager } from '../../index.js';
import { dispatchFold } from '../../index.js';

describe('idempotency keys expire after keyTtl', () => {
  let manager: QueueManager;
  beforeEach(async () => {
    manager = await createQueueManager({ store: 'memory:', handleSignals: false });
  });
  afterEach(() => manager.close());

  it('within the window a keyed publish returns the first event; after it, a new one', async () => {
    const q = manager.queue('orders');
    const first = await q.publish({ n: 1 }, { key: 'order-1', keyTtl: 200 });
    const again = await q.publish({ n: 2 }, { key: 'order-1' });
    expect(again.id).toBe(first.id);
    await new Promise((r) => setTimeout(r, 250));
    const later = await q.publish({ n: 3 }, { key: 'order-1' });
    expect(later.id).not.toBe(first.id);
    expect(later.payload).toEqual({ n: 3 });
    expect(await q.countEvents()).toBe(2);
    expect(KEY_TTL_MS).toBe(86_400_000);
  });

  it('the fold forgets expired keys, oldest first, so their memory is bounded by one window', () => {
    const state = dispatchFold.initial();
    const publish = (position: number, time: number, key: string) =>
      dispatchFold.evolve(state, {
        type: 'event.published',
        v: 1,
        position,
        time,
        queue: 'q',
        eventId: `e${position}`,
        payload: null,
        headers: { key },
        keyTtl: 1000,
      });
    for (let i = 0; i < 100; i++) publish(i, i * 100, `k${i}`);
    const q = state.queues.get('q')!;
    // At time 9900 the keys made before 8900 have expired: 10 remain (and the one just made).
    expect(q.keys.size).toBeLessThanOrEqual(11);
    publish(100, 9_950, 'k99'); // still live: a twin, not indexed
    expect(q.positions.length).toBe(100);
    publish(101, 20_000, 'k99'); // expired: a new event
    expect(q.positions.length).toBe(101);
    expect(q.keys.size).toBe(1);
  });

  it('keyTtl without a key, or not a whole number of ms, is refused', async () => {
    const q = manager.queue('orders');
    await expect(q.publish(1, { keyTtl: 10 })).rejects.toThrow(InvalidArgumentError);
    await expect(q.publish(1, { key: 'k', keyTtl: 0.5 })).rejects.toThrow(/whole number/);
  });
});
