import { describe, expect, it } from 'vitest';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function inspectContract(h: RuntimeHarness): void {
  describe('manager.inspect()', () => {
    it('shows subscribers, claims, workers, stats, reservations and hosted subscriptions as rows', async () => {
      const m = await h.manager();
      expect(m.inspect()).toMatchObject({ position: -1, following: false, ready: false, subscribers: [] });
      const q = m.queue<number>('jobs');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      await q.subscribe(async (e) => (e.payload === 1 ? gate : undefined), { name: 'w', concurrency: 2 });
      const first = await q.publish(1);
      await until(() => m.inspect().claims.some((c) => c.eventPosition === first.position), 'claimed');
      const busy = m.inspect({ queues: ['jobs'] });
      expect(busy.claims).toEqual([
        expect.objectContaining({ queue: 'jobs', subscriber: 'w', status: 'claimed', owner: m.workerId }),
      ]);
      expect(busy.hosted).toEqual([
        expect.objectContaining({ queue: 'jobs', subscriber: 'w', delivery: 'competing', concurrency: 2 }),
      ]);
      expect(busy.workers).toEqual([expect.objectContaining({ workerId: m.workerId, alive: true })]);
      release();
      await q.waitForResult(first.id);
      await until(() => m.inspect().subscribers[0]?.done === 1, 'done');
      await until(() => m.inspect().reservations.length === 1, 'reserved');
      const idle = m.inspect();
      expect(idle.following && idle.ready).toBe(true);
      expect(idle.reservations[0]).toMatchObject({ subscriber: 'w', workerId: m.workerId, slots: 2 });
      expect(idle.subscribers[0]).toMatchObject({
        name: 'w',
        depth: 0,
        inFlight: 0,
        done: 1,
        deadPositions: [],
      });
      expect(idle.stats).toEqual([expect.objectContaining({ queue: 'jobs', published: 1, ok: 1 })]);
      expect(m.inspect({ queues: ['other'] }).subscribers).toEqual([]);
    });
  });
}
