import { filter, firstValueFrom, lastValueFrom, take, tap, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../index.js';
import { createManager } from '../../../runtime/manager.js';
import { readAll } from '../../support/log.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { deferred, until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function streamsContract(h: RuntimeHarness): void {
  describe('RxJS streams', () => {
    it('queue.events$ emits the queue’s events as published; from earliest replays the older ones first', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const old = await q.publish(0);
      const live = firstValueFrom(q.events$().pipe(take(2), toArray()));
      const replay = firstValueFrom(q.events$({ from: 'earliest' }).pipe(take(3), toArray()));
      await m.queue<string>('other').publish('not mine');
      const a = await q.publish(1, { correlationId: 'c' });
      const b = await q.publish(2);
      expect(await live).toEqual([a, b]);
      expect(await replay).toEqual([old, a, b]);
    });

    it('queue.events$ from new sees an event published right after it was subscribed, however slow the head read', async () => {
      const store = await openStore(await h.url());
      // The store, with a head() that answers after 300 ms: a publish made meanwhile commits first.
      const slow = new Proxy(store, {
        get: (target, key) => {
          if (key === 'head') return () => new Promise((r) => setTimeout(r, 300)).then(() => target.head());
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
        },
      });
      const m = await createManager(slow, { handleSignals: false });
      try {
        const q = m.queue<number>('jobs');
        await q.publish(0);
        const live = firstValueFrom(q.events$().pipe(take(1)));
        const a = await q.publish(1);
        const missed = new Promise((_, reject) => setTimeout(() => reject(new Error('not seen')), 3_000));
        expect(await Promise.race([live, missed])).toEqual(a);
      } finally {
        await m.close();
        await store.close();
      }
    });

    it('queue.results$ emits each result as recorded', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const results = firstValueFrom(q.results$().pipe(take(2), toArray()));
      await q.subscribe((e) => e.payload * 10, { name: 'x10' });
      const [e1, e2] = await q.publishMany([1, 2]);
      const got = await results;
      expect(got.map((r) => [r.eventId, r.status, r.details, r.subscriber])).toEqual([
        [e1!.id, 'ok', 10, 'x10'],
        [e2!.id, 'ok', 20, 'x10'],
      ]);
      expect(got).toEqual((await q.searchResults()).items);
    });

    it('manager.records$ from earliest emits every record of the log in order, then the live ones', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      await q.subscribe(() => undefined, { name: 'w' });
      const e = await q.publish(1);
      await q.waitForResult(e.id);
      const before = await readAll(m);
      const all = firstValueFrom(m.records$({ from: 'earliest' }).pipe(take(before.length + 1), toArray()));
      const typed = firstValueFrom(m.records$({ types: ['event.published'] }).pipe(take(1)));
      const next = await q.publish(2);
      const records = await all;
      expect(records.slice(0, before.length)).toEqual(before);
      expect(records.map((r) => r.position)).toEqual(records.map((_, i) => i));
      const tail = records.at(-1)!;
      expect(tail).toMatchObject({ type: 'event.published', eventId: next.id });
      expect(await typed).toEqual(tail);
    });

    it('completes the streams of a manager when it closes', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      // Following first: `new` starts at the head read when following starts, and on a remote store that
      // read can come back after the publish below.
      await m.ready();
      const events = lastValueFrom(q.events$().pipe(toArray()));
      let delivered = 0;
      const fromStart = lastValueFrom(
        q.events$({ from: 'earliest' }).pipe(
          tap(() => delivered++),
          toArray(),
        ),
      );
      const stats = lastValueFrom(q.views.stats$);
      const published = await q.publishMany([1, 2]);
      // A stream from `earliest` follows on its own, and the manager's fold may be behind it or ahead:
      // both have the events before the close, which then completes them.
      await until(() => delivered === 2, 'the stream from earliest to see both');
      await until(() => m.inspect().position >= published.at(-1)!.position, 'the fold to see both');
      await m.close();
      expect(await events).toEqual(published);
      expect(await fromStart).toEqual(published);
      expect((await stats).published).toBe(2);
    });

    it('queue.views follow the log: claims$, workers$, subscribers$ and stats$', async () => {
      const store = await h.url();
      const m = await h.manager({ store, heartbeatMs: 20 });
      const q = m.queue<number>('jobs');
      const release = deferred();
      await q.subscribe(() => release.promise, { name: 'w' });
      await q.subscribe(() => undefined, { name: 'skip-all', filter: 'payload == `-1`' });

      const claimed = firstValueFrom(
        q.views.claims$.pipe(
          filter((rows) => rows.some((r) => r.status === 'claimed' && r.subscriber === 'w')),
        ),
      );
      const e = await q.publish(7);
      // (skip-all's worker holds the event too until it skips it: bound to its reservation, filtered out)
      const rows = (await claimed).filter((r) => r.subscriber === 'w');
      expect(rows).toEqual([
        {
          queue: 'jobs',
          subscriber: 'w',
          eventPosition: e.position,
          status: 'claimed',
          attempt: 1,
          owner: m.workerId,
          leaseUntil: expect.any(Number) as number,
          availableAt: e.availableAt,
        },
      ]);
      const busy = await firstValueFrom(q.views.stats$);
      expect(busy.subscribers.find((s) => s.name === 'w')).toMatchObject({ inFlight: 1, depth: 0, done: 0 });
      expect(busy.published).toBe(1);

      release.resolve();
      const idle = await firstValueFrom(q.views.claims$.pipe(filter((r) => r.length === 0)));
      expect(idle).toEqual([]);
      const stats = await firstValueFrom(
        q.views.stats$.pipe(filter((s) => s.subscribers.every((x) => x.done + x.skipped === 1))),
      );
      expect(stats).toMatchObject({ queue: 'jobs', published: 1, ok: 1, skipped: 1 });
      expect(stats.subscribers.map((s) => [s.name, s.done, s.skipped, s.depth, s.lag])).toEqual([
        ['w', 1, 0, 0, 0],
        ['skip-all', 0, 1, 0, 0],
      ]);

      // workers$: a second worker joins, then leaves
      const other = await h.manager({ store, heartbeatMs: 20 });
      await other.queue('jobs').subscribe(() => undefined, { name: 'w' });
      const both = await firstValueFrom(
        q.views.workers$.pipe(filter((ws) => ws.filter((w) => w.alive).length === 2)),
      );
      expect(both.map((w) => w.workerId).sort()).toEqual([m.workerId, other.workerId].sort());
      expect(both.find((w) => w.workerId === other.workerId)?.subscribers).toEqual(['jobs/w']);
      await other.close();
      const after = await firstValueFrom(
        q.views.workers$.pipe(filter((ws) => ws.some((w) => w.workerId === other.workerId && !w.alive))),
      );
      expect(after.find((w) => w.workerId === other.workerId)?.leftAt).toBeDefined();
      expect(after.find((w) => w.workerId === m.workerId)?.alive).toBe(true);

      // subscribers$: an unsubscribe takes the subscriber out
      const subs = await firstValueFrom(q.views.subscribers$);
      expect(subs.map((s) => s.name)).toEqual(['w', 'skip-all']);
      const skipper = await q.subscribe(() => undefined, { name: 'skip-all', filter: 'payload == `-1`' });
      await skipper.unsubscribe();
      const fewer = await firstValueFrom(q.views.subscribers$.pipe(filter((s) => s.length === 1)));
      expect(fewer.map((s) => s.name)).toEqual(['w']);
    });
  });
}
