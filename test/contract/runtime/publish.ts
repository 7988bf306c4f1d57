import { describe, expect, it } from 'vitest';
import type { StoredRecord, QueueEvent, RecordOf } from '../../../index.js';
import { firstValueFrom, take, toArray } from 'rxjs';
import { openStore, unbatched } from '../../../index.js';
import { LiveViews } from '../../../runtime/live-views.js';
import { acquired, published, registered, result } from '../../support/drafts.js';
import { readAll } from '../../support/log.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function publishContract(h: RuntimeHarness): void {
  function recordAt(log: StoredRecord[], position: number): StoredRecord {
    const r = log[position];
    if (r?.position !== position) throw new Error(`no record at ${position}`);
    return r;
  }

  describe('delay and at', () => {
    it('does not hand out a delayed event before its availableAt (by the log time of the winning claim)', async () => {
      const leaseMs = 5_000;
      const m = await h.manager({ leaseMs });
      const q = m.queue<string>('jobs');
      // What the handler ran under: its attempt, and the claim's lease as the views showed it then.
      const started: { payload: string; attempt: number; leaseUntil: number | null | undefined }[] = [];
      await q.subscribe(
        (e, ctx) => {
          const row = m.inspect().claims.find((c) => c.eventPosition === e.position && c.subscriber === 'w');
          started.push({ payload: e.payload, attempt: ctx.attempt, leaseUntil: row?.leaseUntil });
        },
        { name: 'w' },
      );
      const later = await q.publish('later', { delay: 60 });
      const soon = await q.publish('soon');
      const at = await q.publish('at', { at: new Date(soon.publishedAt + 40) });
      expect(later.availableAt).toBe(later.publishedAt + 60);
      expect(at.availableAt).toBe(soon.publishedAt + 40);
      expect(soon.availableAt).toBe(soon.publishedAt);

      await q.waitForResult(later.id);
      await q.waitForResult(at.id);
      // The undelayed event published after the delayed one runs first.
      expect(started[0]?.payload).toBe('soon');
      const log = await readAll(m);
      const claimsOf = (e: QueueEvent<string>) =>
        log
          .flatMap(unbatched)
          .filter((r): r is RecordOf<'claim.acquired'> => r.type === 'claim.acquired' && r.eventId === e.id);
      // The undelayed one was bound to the worker's reservation as it was appended: its claim is itself
      // (no claim record, the lease counted from the event's own log time).
      expect(claimsOf(soon)).toEqual([]);
      expect(started.find((x) => x.payload === 'soon')).toMatchObject({
        attempt: 1,
        leaseUntil: soon.publishedAt + leaseMs,
      });
      // A held event never binds: it is claimed once its time has come.
      for (const e of [later, at] as QueueEvent<string>[]) {
        const s = started.find((x) => x.payload === e.payload)!;
        // the winning claim: the first one of the attempt the handler ran (a claim.acquired, or an item
        // of a claims.acquired when both held events came free at once, as on a slower store)
        const claim = claimsOf(e).find((c) => c.attempt === s.attempt)!;
        expect(['claim.acquired', 'claims.acquired']).toContain(recordAt(log, claim.position).type);
        expect(claim.workerId).toBe(m.workerId);
        expect(s.leaseUntil).toBe(claim.time + claim.leaseMs);
        expect(claim.time).toBeGreaterThanOrEqual(e.availableAt);
        // no claim on the event was even attempted before its time
        for (const c of claimsOf(e)) expect(c.time).toBeGreaterThanOrEqual(e.availableAt);
      }
    });

    it('rejects bad delay / at values before appending', async () => {
      const m = await h.manager();
      const q = m.queue('jobs');
      const head = await m.store.head();
      await expect(q.publish(1, { delay: -1 })).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.publish(1, { at: Number.NaN })).rejects.toMatchObject({ code: 'invalid-argument' });
      expect(await m.store.head()).toBe(head);
    });
  });

  describe('idempotent publish with a key', () => {
    it('returns the first event for a second publish with the same key and keeps one event in the queue', async () => {
      const m = await h.manager();
      const q = m.queue<{ v: number }>('jobs');
      const first = await q.publish({ v: 1 }, { key: 'order-7' });
      const headAfterFirst = await m.store.head();
      const second = await q.publish({ v: 2 }, { key: 'order-7' });
      expect(second).toEqual(first);
      expect(second.payload).toEqual({ v: 1 });
      expect(await m.store.head()).toBe(headAfterFirst); // known key: nothing appended
      const other = await q.publish({ v: 3 }, { key: 'order-8' });
      expect(other.id).not.toBe(first.id);
      expect(await q.countEvents()).toBe(2);
      expect((await q.searchEvents()).items.map((e) => e.id)).toEqual([first.id, other.id]);
    });

    it('returns one event to racing publishers with the same key (two managers), and handles it once', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const m2 = await h.manager({ store });
      const q1 = m1.queue<number>('jobs');
      const q2 = m2.queue<number>('jobs');
      let calls = 0;
      await q1.subscribe(
        () => {
          calls++;
        },
        { name: 'w' },
      );
      const all = await Promise.all([
        q1.publish(1, { key: 'k' }),
        q2.publish(2, { key: 'k' }),
        q1.publish(3, { key: 'k' }),
        q2.publish(4, { key: 'k' }),
      ]);
      expect(new Set(all.map((e) => e.id)).size).toBe(1);
      expect(new Set(all.map((e) => e.position)).size).toBe(1);
      expect(await q2.countEvents()).toBe(1);
      await q1.waitForResult(all[0].id);
      await q1.publish(9); // a later event handled after it
      await until(() => calls === 2, 'second event handled');
      expect(calls).toBe(2);
    });
  });

  describe('ctx.publish', () => {
    it('sets causationId to the handled event and carries its correlationId along a chain', async () => {
      const m = await h.manager();
      const orders = m.queue<{ id: number }>('orders');
      const emails = m.queue<{ to: number }>('emails');
      const audit = m.queue<string>('audit');
      await orders.subscribe((e, ctx) => ctx.publish({ to: e.payload.id }, { queue: 'emails' }), {
        name: 'mail',
      });
      await emails.subscribe((e, ctx) => ctx.publish(`sent ${e.payload.to}`, { queue: 'audit' }), {
        name: 'log',
      });
      const seen: QueueEvent<string>[] = [];
      await audit.subscribe((e) => void seen.push(e), { name: 'keep' });

      const order = await orders.publish({ id: 7 }, { correlationId: 'corr-1', headers: { tenant: 't1' } });
      await until(() => seen.length === 1, 'audit event');
      const email = (await emails.searchEvents()).items[0]!;
      expect(email.payload).toEqual({ to: 7 });
      expect(email.headers).toMatchObject({ causationId: order.id, correlationId: 'corr-1' });
      expect(seen[0]?.headers).toMatchObject({ causationId: email.id, correlationId: 'corr-1' });
      expect(seen[0]?.payload).toBe('sent 7');
    });

    it('starts a correlation at the handled event when it had none, and publishes to its own queue by default', async () => {
      const m = await h.manager();
      const q = m.queue<number>('countdown');
      const seen: QueueEvent<number>[] = [];
      await q.subscribe(
        async (e, ctx) => {
          seen.push(e);
          if (e.payload > 0) await ctx.publish(e.payload - 1);
        },
        { name: 'down' },
      );
      const first = await q.publish(2);
      await until(() => seen.length === 3, 'three events');
      // The context's members work taken apart too.
      const parts: { attempt: number; subscriber: string; aborted: boolean }[] = [];
      await m.queue<number>('apart').subscribe(
        async (e, { publish, signal, attempt, subscriber }) => {
          parts.push({ attempt, subscriber, aborted: signal.aborted });
          if (e.payload > 0) await publish(e.payload - 1);
        },
        { name: 'apart' },
      );
      await m.queue<number>('apart').publish(1);
      await until(() => parts.length === 2, 'two events taken apart');
      expect(parts).toEqual([
        { attempt: 1, subscriber: 'apart', aborted: false },
        { attempt: 1, subscriber: 'apart', aborted: false },
      ]);
      expect(seen.map((e) => e.payload)).toEqual([2, 1, 0]);
      expect(seen[1]?.headers).toMatchObject({ causationId: first.id, correlationId: first.id });
      expect(seen[2]?.headers).toMatchObject({ causationId: seen[1]?.id, correlationId: first.id });
    });
  });

  describe('a manager that only publishes', () => {
    it('never reads the log; the first thing that needs the fold starts it, and `new` means from then', async () => {
      const store = await h.url();
      const history = await h.manager({ store });
      await history.queue('jobs').publishMany([1, 2, 3]);
      const m = await h.manager({ store });
      const q = m.queue<number>('jobs');
      await q.publish(4);
      await q.publishMany([5, 6]);
      expect(m.inspect()).toMatchObject({ following: false, position: -1 });

      // records$ from `new` starts following at the head as it is now: none of the six before.
      const seen: number[] = [];
      const sub = q.events$().subscribe((e) => seen.push(e.payload));
      await until(() => m.inspect().ready);
      await q.publish(7);
      await history.queue<number>('jobs').publish(8);
      await until(() => seen.length === 2);
      sub.unsubscribe();
      expect(seen).toEqual([7, 8]);
      expect(m.inspect({ queues: ['jobs'] }).stats[0]?.published).toBe(8);
    });

    it('starts following for a keyed publish, which needs the keys folded', async () => {
      const store = await h.url();
      const first = await h.manager({ store });
      const a = await first.queue('jobs').publish('a', { key: 'k' });
      const m = await h.manager({ store });
      expect(m.inspect().following).toBe(false);
      const again = await m.queue('jobs').publish('b', { key: 'k' });
      expect(again.id).toBe(a.id);
      expect(m.inspect().ready).toBe(true);
    });

    it("gives results$ from the log the fold's verdict, starting the fold", async () => {
      const store = await h.url();
      const writer = await h.manager({ store });
      // A result from a worker that does not hold the lease is rejected; the holder's is accepted.
      await writer.store.append([
        published('e0'),
        registered(),
        acquired({ event: 0, worker: 'w1', leaseMs: 60_000 }),
        result({ event: 0, worker: 'w2' }),
        result({ event: 0, worker: 'w1' }),
      ]);
      const m = await h.manager({ store });
      expect(m.inspect().following).toBe(false);
      const results = await firstValueFrom(
        m.queue('q').results$({ from: 'earliest' }).pipe(take(2), toArray()),
      );
      expect(results.map((r) => [r.workerId, r.accepted])).toEqual([
        ['w2', false],
        ['w1', true],
      ]);
    });

    it('rejects what waits on a fold whose start failed, and starts again on the next call', async () => {
      const store = await openStore(await h.url());
      let failures = 1;
      // The store, with a head() that fails once.
      const flaky = new Proxy(store, {
        get: (target, key) => {
          if (key === 'head')
            return () => (failures-- > 0 ? Promise.reject(new Error('store away')) : target.head());
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
        },
      });
      await store.append([published('e0')]);
      const rt = new LiveViews(flaky);
      const starting = rt.start();
      const waiting = rt.waitFor(0); // queued while the start is under way
      await expect(starting).rejects.toThrow('store away');
      await expect(waiting).rejects.toThrow('store away');
      await rt.waitFor(0);
      expect(rt.position).toBe(0);
      await rt.stop();
      await store.close();
    });

    it("folds at creation with fold: 'eager', and refuses other values", async () => {
      const store = await h.url();
      await (await h.manager({ store })).queue('jobs').publish(1);
      const m = await h.manager({ store, fold: 'eager' });
      expect(m.inspect()).toMatchObject({ ready: true, position: 0 });
      await expect(h.manager({ store, fold: 'later' as never })).rejects.toMatchObject({
        code: 'invalid-argument',
        message: expect.stringContaining("fold must be 'lazy' or 'eager'") as unknown,
      });
    });
  });
}
