import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createQueueManager, InvalidArgumentError, NotFoundError, type QueueManager } from '../../index.js';

describe("the rest of Eventy's queries", () => {
  let manager: QueueManager;
  beforeEach(async () => {
    manager = await createQueueManager({ store: 'memory:', handleSignals: false });
  });
  afterEach(() => manager.close());

  it('results by id, batch and count, with the search filters', async () => {
    const q = manager.queue<{ n: number }>('jobs');
    await q.subscribe(
      (e) => {
        if (e.payload.n % 3 === 0) throw new Error('no thirds');
        return e.payload.n;
      },
      { name: 'w' },
    );
    const events = await Promise.all(Array.from({ length: 9 }, (_, n) => q.publish({ n })));
    const finals = await Promise.all(events.map((e) => q.waitForResult(e.id)));
    for (const r of finals) expect(await q.getResult(r.id)).toEqual(r);
    const batch = await q.batchGetResults([finals[1]!.id, 'nope', '999999', finals[2]!.id]);
    expect(batch).toEqual([finals[1], null, null, finals[2]]);
    expect(await q.countResults()).toBe(9);
    expect(await q.countResults({ status: 'failed' })).toBe(3);
    expect(await q.countResults({ status: 'ok', subscriber: 'w' })).toBe(6);
    expect(await q.countResults({ eventId: events[4]!.id })).toBe(1);
    await expect(q.getResult('12345')).rejects.toThrow(NotFoundError);
    // Another queue's result is not this queue's.
    expect(await manager.queue('other').batchGetResults([finals[0]!.id])).toEqual([null]);
    await expect(q.batchGetResults('x' as never)).rejects.toThrow(InvalidArgumentError);
  });

  it('claims by id, batch, count and dates', async () => {
    const q = manager.queue('locks');
    expect(await q.createClaim('a', { x: 1 })).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(await q.createClaim('b')).toBe(true);
    expect(await q.createClaim('a')).toBe(false);
    const [a, none, b] = await q.batchGetClaims(['a', 'zz', 'b']);
    expect(a).toMatchObject({ claimId: 'a', data: { x: 1 } });
    expect(none).toBeNull();
    expect(b).toMatchObject({ claimId: 'b' });
    expect(await q.countClaims()).toBe(2);
    expect(await q.countClaims({ createdAfter: a!.createdAt })).toBe(1);
    expect(await q.countClaims({ createdBefore: new Date(b!.createdAt) })).toBe(1);
    expect((await q.searchClaims({ createdAfter: a!.createdAt })).items.map((c) => c.claimId)).toEqual(['b']);
    expect(await q.countClaims({ workerId: 'someone-else' })).toBe(0);
  });

  it('subscriptions by name and count; registeredAt is a time, the position beside it', async () => {
    const q = manager.queue('jobs');
    const before = Date.now();
    await q.subscribe(() => 1, { name: 'one' });
    await q.subscribe(() => 1, { name: 'two' });
    const one = await q.getSubscription('one');
    expect(one.registeredAt).toBeGreaterThanOrEqual(before - 1000);
    expect(one.registeredAt).toBeLessThanOrEqual(Date.now());
    expect(Number.isInteger(one.registeredPosition)).toBe(true);
    expect(await q.countSubscriptions()).toBe(2);
    await expect(q.getSubscription('three')).rejects.toThrow(NotFoundError);
    const two = await q.subscribe(() => 1, { name: 'gone' });
    await two.unsubscribe();
    expect(await q.countSubscriptions()).toBe(2);
  });

  it('manager.queues(): names and counts', async () => {
    await manager.queue('b').publish(1);
    await manager.queue('b').publish(2);
    await manager.queue('a').subscribe(() => 1, { name: 's' });
    await manager.queue('a').schedule('tick', { at: '2099-01-01T00:00:00Z', payload: {} });
    expect(await manager.queues()).toEqual([
      { name: 'a', events: 0, subscribers: 1, schedules: 1 },
      { name: 'b', events: 2, subscribers: 0, schedules: 0 },
    ]);
  });
});
