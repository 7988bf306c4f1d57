import { describe, expect, it } from 'vitest';
import {
  dispatchFold,
  foldAll,
  resultRef,
  unbatched,
  type QueueResult,
  type RecordOf,
} from '../../../index.js';
import { subscriberRow } from '../../support/inspect.js';
import { readAll } from '../../support/log.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function deliveryContract(h: RuntimeHarness): void {
  async function allResults(q: {
    searchResults(o: {
      pageId?: string | null;
    }): Promise<{ items: QueueResult[]; nextPageId: string | null }>;
  }): Promise<QueueResult[]> {
    const out: QueueResult[] = [];
    let pageId: string | null = null;
    do {
      const page: { items: QueueResult[]; nextPageId: string | null } = await q.searchResults({ pageId });
      out.push(...page.items);
      pageId = page.nextPageId;
    } while (pageId !== null);
    return out;
  }

  describe('delivery within one process', () => {
    it('competing: two managers on one log handle every event exactly once, each with one ok result', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const m2 = await h.manager({ store });
      const q1 = m1.queue<{ n: number }>('jobs');
      const q2 = m2.queue<{ n: number }>('jobs');
      const handled = new Map<number, string[]>();
      const handler = (who: string) => async (e: { payload: { n: number } }) => {
        handled.set(e.payload.n, [...(handled.get(e.payload.n) ?? []), who]);
        await new Promise((r) => setImmediate(r));
      };
      await q1.subscribe(handler(m1.workerId), { name: 'work', concurrency: 4 });
      await q2.subscribe(handler(m2.workerId), { name: 'work', concurrency: 4 });
      const N = 200;
      const events = await q1.publishMany(Array.from({ length: N }, (_, n) => ({ n })));

      await until(async () => (await q1.countEvents()) === N && handled.size === N, 'all handled');
      const ok = await until(async () => {
        const rs = await allResults(q1);
        return rs.filter((r) => r.status === 'ok').length >= N && rs;
      }, 'all ok results');

      for (const [n, who] of handled) expect(who, `event ${n}`).toHaveLength(1);
      const byEvent = new Map<string, QueueResult[]>();
      for (const r of ok) byEvent.set(r.eventId, [...(byEvent.get(r.eventId) ?? []), r]);
      expect(byEvent.size).toBe(N);
      for (const e of events) {
        const rs = byEvent.get(e.id) ?? [];
        expect(rs.map((r) => r.status)).toEqual(['ok']);
        expect(rs[0]?.accepted).toBe(true);
        expect(rs[0]?.workerId).toBe(handled.get(e.payload.n)?.[0]);
      }
      // both workers took part (claims spread over live workers)
      expect(new Set(ok.map((r) => r.workerId))).toEqual(new Set([m1.workerId, m2.workerId]));
      const stats = await until(() => {
        const row = subscriberRow(m2, 'jobs', 'work');
        return row?.done === N && row;
      }, 'the other manager to fold every result');
      expect(stats).toMatchObject({ done: N, rejected: 0, failed: 0, depth: 0, inFlight: 0 });
      // every event of the queue finished: no open item left
      expect(m2.inspect({ queues: ['jobs'] }).claims).toEqual([]);
    });

    it('broadcast: every worker hosting the subscriber runs each event once', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const m2 = await h.manager({ store });
      const q1 = m1.queue<number>('news');
      const q2 = m2.queue<number>('news');
      const seen: string[] = [];
      await q1.subscribe((e, ctx) => void seen.push(`${ctx.workerId}:${e.payload}`), {
        name: 'print',
        delivery: 'broadcast',
      });
      await q2.subscribe((e, ctx) => void seen.push(`${ctx.workerId}:${e.payload}`), {
        name: 'print',
        delivery: 'broadcast',
      });
      const N = 30;
      const events = await q2.publishMany(Array.from({ length: N }, (_, i) => i));
      const results = await until(async () => {
        const rs = await allResults(q1);
        return rs.length >= 2 * N && rs;
      }, 'two results per event');
      // settle: nothing more arrives
      await new Promise((r) => setTimeout(r, 50));
      expect(await allResults(q1)).toHaveLength(2 * N);
      for (const e of events) {
        const rs = results.filter((r) => r.eventId === e.id);
        expect(rs.map((r) => r.status)).toEqual(['ok', 'ok']);
        expect(new Set(rs.map((r) => r.workerId))).toEqual(new Set([m1.workerId, m2.workerId]));
      }
      expect(seen).toHaveLength(2 * N);
      expect(new Set(seen).size).toBe(2 * N);
      // broadcast takes no claims: no claim or reservation record of the subscriber in the log
      const claims = (await readAll(m1)).flatMap(unbatched).filter((r) => r.type.startsWith('claim'));
      expect(claims.filter((r) => (r as { subscriberId?: string }).subscriberId === 'news/print')).toEqual(
        [],
      );
    });
  });

  describe('concurrency', () => {
    it('runs at most `concurrency` handlers of a subscriber at once in a process, and uses them all', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      let running = 0;
      let most = 0;
      const gates: (() => void)[] = [];
      await q.subscribe(
        async () => {
          running++;
          most = Math.max(most, running);
          await new Promise<void>((r) => gates.push(r));
          running--;
        },
        { name: 'w', concurrency: 3 },
      );
      const events = await q.publishMany([1, 2, 3, 4, 5, 6, 7]);
      let released = 0;
      while (released < events.length) {
        await until(() => gates.length > 0, 'a running handler');
        // let the dispatcher try to take more before opening a gate
        await new Promise((r) => setTimeout(r, 5));
        expect(running).toBeLessThanOrEqual(3);
        gates.shift()!();
        released++;
      }
      for (const e of events) await q.waitForResult(e.id);
      expect(most).toBe(3);
    });
  });

  describe('reservations', () => {
    /** Publishes one event at a time, each after the previous one's result. */
    async function trickle(reserve: boolean | undefined) {
      const heartbeatMs = 1_000;
      const m = await h.manager({ heartbeatMs });
      const q = m.queue<number>('jobs');
      const ran: number[] = [];
      const sub = await q.subscribe((e) => void ran.push(e.payload), {
        name: 'w',
        concurrency: 3,
        ...(reserve === undefined ? {} : { reserve }),
      });
      for (let i = 0; i < 5; i++) await q.waitForResult((await q.publish(i)).id);
      await sub.stop();
      const log = await readAll(m);
      await m.close();
      return { ran, log, workerId: m.workerId, heartbeatMs };
    }

    it('runs events on the worker’s reservation: no claim record, one trip through the log', async () => {
      const { ran, log, workerId, heartbeatMs } = await trickle(undefined);
      expect(ran).toEqual([0, 1, 2, 3, 4]);
      expect(log.filter((r) => r.type === 'claim.acquired' || r.type === 'claims.acquired')).toEqual([]);
      const reservations = log.filter((r): r is RecordOf<'claim.reserved'> => r.type === 'claim.reserved');
      // the free slots first, then one per event handled (with its result); the last one cancels it
      expect(reservations[0]).toMatchObject({ workerId, slots: 3, ttlMs: 3 * heartbeatMs });
      // (heartbeats renew it in between: `renews`, no claim.reserved)
      expect(reservations.slice(1, -1).every((r) => r.slots === 1)).toBe(true);
      expect(reservations.filter((r) => r.slots === 1)).toHaveLength(5);
      expect(reservations.at(-1)).toMatchObject({ slots: 0, ttlMs: 0 });
      // each event's result came from the claim that is the event itself
      const results = log.filter((r): r is RecordOf<'result.recorded'> => r.type === 'result.recorded');
      expect(results.map((r) => [r.attempt, r.status])).toEqual(Array(5).fill([1, 'ok']));
    });

    it('reserve: false claims every event after seeing it', async () => {
      const { ran, log } = await trickle(false);
      expect(ran).toEqual([0, 1, 2, 3, 4]);
      expect(log.filter((r) => r.type === 'claim.reserved')).toEqual([]);
      expect(log.filter((r) => r.type === 'claim.acquired')).toHaveLength(5);
    });

    it('renews the reservations with the heartbeat while the worker is idle: one record a beat', async () => {
      const m = await h.manager({ heartbeatMs: 30 });
      const names = ['a', 'b', 'c'];
      for (const name of names) await m.queue<number>(`jobs-${name}`).subscribe(() => undefined, { name });
      await new Promise((r) => setTimeout(r, 200));
      const q = m.queue<number>('jobs-b');
      const e = await q.publish(1); // well after the first reservation's 90 ms
      await q.waitForResult(e.id);
      const log = await readAll(m);
      expect(log.filter((r) => r.type === 'claim.acquired')).toEqual([]);
      // no claim.reserved renews: after the three first ones, only the top-up with the result
      const reserved = log.filter((r): r is RecordOf<'claim.reserved'> => r.type === 'claim.reserved');
      expect(reserved.filter((r) => r.slots === 0 && r.ttlMs > 0)).toEqual([]);
      const renewing = log.filter(
        (r): r is RecordOf<'worker.heartbeat'> => r.type === 'worker.heartbeat' && r.renews !== undefined,
      );
      expect(renewing.length).toBeGreaterThan(2);
      expect(new Set(renewing.flatMap((r) => r.renews ?? []))).toEqual(
        new Set(names.map((name) => `jobs-${name}/${name}`)),
      );
    });

    it('stops reserving for a subscriber deleted under it (no reservation the fold would ignore, again and again)', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const m2 = await h.manager({ store });
      await m1.queue('jobs').subscribe(() => undefined, { name: 'w' });
      const s2 = await m2.queue('jobs').subscribe(() => undefined, { name: 'w' });
      expect(await s2.unsubscribe()).toBe(true);
      const deletedAt = (await readAll(m1)).find((r) => r.type === 'subscriber.deleted')!.position;
      await m1.queue('jobs').publish(1); // wakes m1's dispatcher
      await new Promise((r) => setTimeout(r, 150));
      const after = (await readAll(m1)).filter((r) => r.type === 'claim.reserved' && r.position > deletedAt);
      expect(after.length).toBeLessThanOrEqual(1); // at most one on its way when the deletion came
    });

    it('releases, does not run, an event bound after an end order (a reservation that crossed the order)', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const q1 = m1.queue<number>('jobs');
      const ran: number[] = [];
      await q1.subscribe((e) => void ran.push(e.payload), { name: 'w' });
      expect(await q1.end({ timeout: 1_000 })).toEqual({ drained: true });
      // As if m1 had topped its reservation up just before it folded the order.
      await m1.store.append([
        {
          type: 'claim.reserved',
          queue: 'jobs',
          subscriberId: 'jobs/w',
          workerId: m1.workerId,
          slots: 1,
          leaseMs: 60_000,
          ttlMs: 60_000,
        },
      ]);
      const e = await q1.publish(7);
      await until(async () => (await readAll(m1)).some((r) => r.type === 'claim.released'), 'the release');
      expect(ran).toEqual([]);
      const m2 = await h.manager({ store });
      await m2.queue<number>('jobs').subscribe((x) => void ran.push(x.payload), { name: 'w' });
      expect(await m2.queue('jobs').waitForResult(e.id)).toMatchObject({ workerId: m2.workerId, attempt: 2 });
      expect(ran).toEqual([7]);
    });

    it('one subscriber hosted twice in one manager: bound events run once (only the first reserves)', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const ran: number[] = [];
      await q.subscribe((e) => void ran.push(e.payload), { name: 'w', concurrency: 2 });
      await q.subscribe((e) => void ran.push(e.payload), { name: 'w', concurrency: 2 });
      for (let i = 0; i < 6; i++) await q.waitForResult((await q.publish(i)).id);
      expect(ran).toEqual([0, 1, 2, 3, 4, 5]);
      expect(subscriberRow(m, 'jobs', 'w')).toMatchObject({ done: 6, rejected: 0 });
    });

    it('gives the reservation back under a backlog (held events come free), and reserves again once idle', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      await q.subscribe(() => new Promise((r) => setTimeout(r, 2)), { name: 'w', concurrency: 2 });
      await until(() => m.inspect().reservations.some((r) => r.workerId === m.workerId), 'reserved');
      // Held events never bind: when they come free they are a backlog the scan fills every slot with.
      const events = await q.publishMany(
        Array.from({ length: 10 }, (_, i) => i),
        { delay: 30 },
      );
      for (const e of events) await q.waitForResult(e.id);
      const log = await readAll(m);
      const reservations = log.filter((r): r is RecordOf<'claim.reserved'> => r.type === 'claim.reserved');
      const cancelled = reservations.findIndex((r) => r.ttlMs === 0);
      expect(cancelled).toBeGreaterThan(0);
      expect(reservations[cancelled]!.position).toBeGreaterThan(events.at(-1)!.position);
      // the same worker claimed the held events, and reserved its slots again when it ran out of work
      expect(
        log.filter((r) => r.type === 'claims.acquired' || r.type === 'claim.acquired').length,
      ).toBeGreaterThan(0);
      await until(
        () => m.inspect().reservations.find((r) => r.workerId === m.workerId)?.slots === 2,
        'reserved again',
      );
    });

    it('rejects a reserve option that is not a boolean', async () => {
      const m = await h.manager();
      await expect(
        m.queue('jobs').subscribe(() => undefined, { name: 'w', reserve: 1 as never }),
      ).rejects.toThrow('reserve must be true or false, got: 1');
    });
  });

  describe('leases', () => {
    it('takes over a dead worker’s claim after its lease expires, and fences the dead worker’s late result', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      const attempts: number[] = [];
      const handler = (_e: unknown, ctx: { attempt: number }) => void attempts.push(ctx.attempt);
      await (await q.subscribe(handler, { name: 'w' })).stop(); // registered, not hosted
      const e = await q.publish('x');
      // A worker that claims the event and then dies: no extension, no result.
      const ghost = { queue: 'jobs', eventId: e.id, eventPosition: e.position, subscriberId: 'jobs/w' };
      const claim = await m.store.append([
        { type: 'claim.acquired', ...ghost, workerId: 'ghost', attempt: 1, leaseMs: 150 },
      ]);
      const leaseUntil = claim.time + 150;

      await q.subscribe(handler, { name: 'w' });
      const result = await q.waitForResult(e.id, { signal: AbortSignal.timeout(5_000) });
      expect(result).toMatchObject({ status: 'ok', attempt: 2, workerId: m.workerId, accepted: true });
      expect(attempts).toEqual([2]);
      const takeover = (await readAll(m)).find(
        (r) => r.type === 'claim.acquired' && (r as RecordOf<'claim.acquired'>).workerId === m.workerId,
      )!;
      expect(takeover.time).toBeGreaterThanOrEqual(leaseUntil);

      // The ghost wakes up and reports: recorded, rejected, never counted.
      const late = await m.store.append([
        { type: 'result.recorded', ...ghost, workerId: 'ghost', attempt: 1, status: 'failed', durationMs: 1 },
      ]);
      const results = await q.getResults(e.id, { includeRejected: true });
      expect(results.map((r) => [r.workerId === m.workerId ? 'me' : r.workerId, r.accepted])).toEqual([
        ['me', true],
        ['ghost', false],
      ]);
      expect((await q.getResults(e.id)).map((r) => r.workerId)).toEqual([m.workerId]); // fenced ones left out
      // the log folded says the same: the late result is the one fenced off
      const folded = foldAll(dispatchFold, await readAll(m));
      expect([...folded.rejected]).toEqual([resultRef({ position: late.positions[0]! })]);
      await until(() => subscriberRow(m, 'jobs', 'w')?.rejected === 1, 'the rejection folded');
      expect(subscriberRow(m, 'jobs', 'w')).toMatchObject({
        done: 1,
        failed: 0,
        rejected: 1,
      });
      expect((await q.searchResults({ status: 'failed' })).items).toEqual([]);
      const fenced = await q.searchResults({ status: 'failed', includeRejected: true });
      expect(fenced.items.map((r) => r.accepted)).toEqual([false]);
    });

    it('extends leases while handlers run longer than the lease, so no other worker takes their events', async () => {
      const store = await h.url();
      const opts = { store, leaseMs: 150, heartbeatMs: 1_000, spreadGraceMs: 1 };
      const m1 = await h.manager(opts);
      const m2 = await h.manager(opts);
      const runs: string[] = [];
      const slow = (who: string) => async (e: { id: string }) => {
        runs.push(`${who}:${e.id}`);
        await new Promise((r) => setTimeout(r, 400));
      };
      await m1.queue('jobs').subscribe(slow('m1'), { name: 'w' });
      await m2.queue('jobs').subscribe(slow('m2'), { name: 'w' });
      const events = await m1.queue<number>('jobs').publishMany([1, 2, 3, 4]);
      const q = m1.queue('jobs');
      for (const e of events) await q.waitForResult(e.id, { signal: AbortSignal.timeout(5_000) });
      expect(runs).toHaveLength(4);
      for (const e of events) {
        const rs = await q.getResults(e.id);
        expect(rs.map((r) => [r.status, r.attempt, r.accepted])).toEqual([['ok', 1, true]]);
      }
      const log = await readAll(m1);
      expect(log.filter((r) => r.type === 'claim.extended').length).toBeGreaterThanOrEqual(4);
      expect(
        log.filter((r) => r.type === 'claim.acquired' && (r as RecordOf<'claim.acquired'>).attempt > 1),
      ).toEqual([]);
    });
  });
}
