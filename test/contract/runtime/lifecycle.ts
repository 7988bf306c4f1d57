import { describe, expect, it } from 'vitest';
import { createQueueManager, InterruptedError, type StoredRecord, type RecordOf } from '../../../index.js';
import { readAll } from '../../support/log.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { deferred, until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function lifecycleContract(h: RuntimeHarness): void {
  const types = (log: StoredRecord[], type: string) => log.filter((r) => r.type === type);

  describe('end', () => {
    it('drains the events published before it, then the workers stop: later events stay unhandled', async () => {
      const store = await h.url();
      const m = await h.manager({ store, heartbeatMs: 20 });
      const q = m.queue<number>('jobs');
      const seen: number[] = [];
      await q.subscribe(
        async (e) => {
          await new Promise((r) => setTimeout(r, 2));
          seen.push(e.payload);
        },
        { name: 'w', concurrency: 2 },
      );
      const before = await q.publishMany([1, 2, 3, 4, 5, 6]);
      expect(await q.end({ timeout: 10_000 })).toEqual({ drained: true });
      for (const e of before) expect((await q.getResults(e.id)).map((r) => r.status)).toEqual(['ok']);
      expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);

      const after = await q.publishMany([7, 8]);
      await new Promise((r) => setTimeout(r, 40));
      expect(seen).toHaveLength(6);
      expect(await q.getResults(after[0]!.id)).toEqual([]);
      const log = await readAll(m);
      expect(types(log, 'control.end')).toHaveLength(1);
      // the worker no longer announces the subscriber it stopped
      await until(
        () => m.inspect().workers.find((w) => w.workerId === m.workerId)?.subscribers.length === 0,
        'a heartbeat without the subscriber',
      );

      // a worker that starts after the end runs what is left
      const later = await h.manager({ store });
      const lq = later.queue<number>('jobs');
      await lq.subscribe((e) => void seen.push(e.payload), { name: 'w' });
      for (const e of after) await lq.waitForResult(e.id);
      expect(seen.slice(6).sort()).toEqual([7, 8]);
      const okBy = (await lq.searchResults({ status: 'ok' })).items.filter(
        (r) => r.eventPosition >= after[0]!.position,
      );
      expect(new Set(okBy.map((r) => r.workerId))).toEqual(new Set([later.workerId]));
    });

    it('stops every worker of the queue, not only the one that called end', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const m2 = await h.manager({ store });
      const seen: string[] = [];
      await m1.queue<number>('jobs').subscribe((e) => void seen.push(`m1:${e.payload}`), { name: 'w' });
      await m2.queue<number>('jobs').subscribe((e) => void seen.push(`m2:${e.payload}`), { name: 'w' });
      await m2.queue<number>('jobs').subscribe((e) => void seen.push(`fan:${e.payload}`), {
        name: 'fan',
        delivery: 'broadcast',
      });
      const q = m1.queue<number>('jobs');
      await q.publishMany([1, 2, 3, 4]);
      expect(await q.end({ timeout: 5_000 })).toEqual({ drained: true });
      await until(() => seen.filter((s) => s.startsWith('fan:')).length === 4, 'broadcast drained');
      const handled = seen.length;
      const later = await q.publishMany([5, 6]);
      await new Promise((r) => setTimeout(r, 50));
      expect(seen).toHaveLength(handled);
      for (const e of later) expect(await q.getResults(e.id)).toEqual([]);
      expect(
        seen
          .filter((s) => !s.startsWith('fan:'))
          .map((s) => s.slice(3))
          .sort(),
      ).toEqual(['1', '2', '3', '4']);
    });

    it('interrupts what is still running when the drain times out', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      let reason: unknown;
      await q.subscribe(
        (_e, ctx) =>
          new Promise<void>((resolve) =>
            ctx.signal.addEventListener('abort', () => {
              reason = ctx.signal.reason;
              resolve();
            }),
          ),
        { name: 'stuck' },
      );
      const e = await q.publish(1);
      await until(
        () =>
          m
            .inspect()
            .claims.some(
              (c) => c.subscriber === 'stuck' && c.eventPosition === e.position && c.status === 'claimed',
            ),
        'claimed',
      );
      expect(await q.end({ timeout: 30 })).toEqual({ drained: false });
      await until(() => reason !== undefined, 'abort');
      expect(reason).toBeInstanceOf(InterruptedError);
      const r = await q.waitForResult(e.id);
      expect(r).toMatchObject({ status: 'failed', error: { name: 'InterruptedError' } });
      expect(types(await readAll(m), 'control.interrupt')).toHaveLength(1);
    });
  });

  describe('interrupt', () => {
    it('aborts in-flight handlers with an InterruptedError and stops taking events', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const reasons: unknown[] = [];
      const started: number[] = [];
      await q.subscribe(
        (e, ctx) => {
          started.push(e.payload);
          return new Promise<void>((_resolve, reject) =>
            ctx.signal.addEventListener('abort', () => {
              reasons.push(ctx.signal.reason);
              reject(ctx.signal.reason as Error);
            }),
          );
        },
        { name: 'w', concurrency: 2, retry: { limit: 3, minBackoff: 1, maxBackoff: 1 } },
      );
      const running = await q.publishMany([1, 2]);
      await until(() => started.length === 2, 'both running');
      await q.interrupt();
      // not final (a retry follows): read them, not waitForResult
      const results = await until(async () => {
        const all = await Promise.all(running.map(async (e) => (await q.getResults(e.id))[0]));
        return all.every((r) => r !== undefined) && all;
      }, 'interrupted results');
      expect(results.map((r) => [r.status, r.error?.name, typeof r.retryAt])).toEqual([
        ['failed', 'InterruptedError', 'number'],
        ['failed', 'InterruptedError', 'number'],
      ]);
      expect(reasons.every((r) => r instanceof InterruptedError)).toBe(true);
      expect(reasons).toHaveLength(2);

      const later = await q.publish(3);
      await new Promise((r) => setTimeout(r, 40));
      expect(started).toEqual([1, 2]);
      expect(await q.getResults(later.id)).toEqual([]);
    });

    it('leaves interrupted events retryable: the next worker runs them again, per the retry policy', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const q1 = m1.queue<number>('jobs');
      const retry = { limit: 2, minBackoff: 1, maxBackoff: 1 };
      let running = 0;
      const hang = (_e: unknown, ctx: { signal: AbortSignal }) => {
        running++;
        return new Promise<void>((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)),
        );
      };
      await q1.subscribe(hang, { name: 'w', concurrency: 2, retry });
      await q1.subscribe(hang, { name: 'once', concurrency: 2, retry: { ...retry, limit: 0 } });
      const [a, b] = await q1.publishMany([1, 2]);
      await until(() => running === 4, 'all running');
      await q1.interrupt();
      for (const e of [a!, b!]) {
        await until(async () => (await q1.getResults(e.id)).length === 2, 'interrupted results');
      }

      const m2 = await h.manager({ store });
      const q2 = m2.queue<number>('jobs');
      const seen: [number, number][] = [];
      await q2.subscribe((e, ctx) => void seen.push([e.payload, ctx.attempt]), { name: 'w', retry });
      await q2.subscribe(() => undefined, { name: 'once', retry: { ...retry, limit: 0 } });
      for (const e of [a!, b!]) {
        const r = await q2.waitForResult(e.id, { subscriber: 'w', signal: AbortSignal.timeout(10_000) });
        expect([r.status, r.attempt, r.workerId]).toEqual(['ok', 2, m2.workerId]);
      }
      expect(seen.sort()).toEqual([
        [1, 2],
        [2, 2],
      ]);
      // without retries left an interrupted event is dead, as any other failure
      const once = m2.inspect().subscribers.find((s) => s.name === 'once');
      expect(once?.deadPositions).toEqual([a!.position, b!.position]);
    });
  });

  describe('interrupt and later workers', () => {
    it('does not stop a worker that starts hosting after the interrupt', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store });
      const q1 = m1.queue<number>('jobs');
      const seen: string[] = [];
      await q1.subscribe((e) => void seen.push(`m1:${e.payload}`), { name: 'w' });
      await q1.interrupt();
      const e = await q1.publish(1);
      const m2 = await h.manager({ store });
      await m2.queue<number>('jobs').subscribe((x) => void seen.push(`m2:${x.payload}`), { name: 'w' });
      const r = await m2.queue('jobs').waitForResult(e.id, { signal: AbortSignal.timeout(5_000) });
      expect(r.workerId).toBe(m2.workerId);
      expect(seen).toEqual(['m2:1']);
    });
  });

  describe('shutdown', () => {
    it('stops gracefully when the AbortSignal given to the manager aborts: drains, then appends worker.left', async () => {
      const store = await h.url();
      const controller = new AbortController();
      const m = await createQueueManager({
        store,
        handleSignals: false,
        signal: controller.signal,
        shutdownTimeout: 10_000,
      });
      const watcher = await h.manager({ store });
      const q = m.queue<number>('jobs');
      const release = deferred();
      const started = deferred();
      let aborted = false;
      await q.subscribe(
        async (_e, ctx) => {
          started.resolve();
          await release.promise;
          aborted = ctx.signal.aborted;
          return 'finished';
        },
        { name: 'w' },
      );
      const e = await q.publish(1);
      await started.promise;
      controller.abort();
      await until(() => m.closed, 'closing');
      release.resolve();
      const result = await watcher.queue('jobs').waitForResult(e.id);
      expect(result).toMatchObject({ status: 'ok', details: 'finished', workerId: m.workerId });
      expect(aborted).toBe(false); // drained, not cut off
      const log = await until(async () => {
        const all = await readAll(watcher);
        return types(all, 'worker.left').length === 1 && all;
      }, 'worker.left');
      const left = types(log, 'worker.left')[0] as RecordOf<'worker.left'>;
      expect(left.workerId).toBe(m.workerId);
      expect(left.position).toBeGreaterThan(result.position);
      await m.close(); // the close the signal started (handlers may publish until it ends)
      expect(() => m.queue('jobs')).toThrow(expect.objectContaining({ code: 'closed' }) as Error);
      await m.close(); // safe twice
    });

    it('releases what does not finish within shutdownTimeout, so another worker runs it again', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store, shutdownTimeout: 20 });
      const q1 = m1.queue<number>('jobs');
      let firstReason: unknown;
      let started = false;
      await q1.subscribe(
        (_e, ctx) => {
          started = true;
          return new Promise<void>((resolve) =>
            ctx.signal.addEventListener('abort', () => {
              firstReason = ctx.signal.reason;
              resolve();
            }),
          );
        },
        { name: 'w' },
      );
      const e = await q1.publish(1);
      await until(() => started, 'started');
      await m1.close();
      expect((firstReason as Error).name).toBe('ShutdownError');

      const m2 = await h.manager({ store });
      const q2 = m2.queue<number>('jobs');
      const attempts: number[] = [];
      await q2.subscribe((_e, ctx) => void attempts.push(ctx.attempt), { name: 'w' });
      const r = await q2.waitForResult(e.id);
      expect(r).toMatchObject({ status: 'ok', workerId: m2.workerId, attempt: 2 });
      expect(attempts).toEqual([2]);
      const log = await readAll(m2);
      const released = types(log, 'claim.released') as RecordOf<'claim.released'>[];
      expect(released.map((x) => [x.workerId, x.eventId])).toEqual([[m1.workerId, e.id]]);
      // released, so the new claim did not wait for the lease (5 s) to run out
      const leftAt = types(log, 'worker.left')[0]!.position;
      expect(released[0]!.position).toBeLessThan(leftAt);
      expect((await q2.getResults(e.id)).map((x) => x.status)).toEqual(['ok']);
    });

    it.each([
      ['a claim won', false, 'claim.acquired'],
      ['an event bound to its reservation', true, 'event.published'],
    ])('releases %s while stopping instead of running it after stop() resolved', async (_, reserve, seen) => {
      const store = await h.url();
      const m1 = await h.manager({ store, leaseMs: 60_000 });
      const q1 = m1.queue<number>('jobs');
      let active = 0;
      let stopped = false;
      let lateStarts = 0;
      const sub = await q1.subscribe(
        async () => {
          if (stopped) lateStarts++;
          active++;
          await new Promise((r) => setTimeout(r, 20));
          active--;
        },
        { name: 'w', reserve },
      );
      // Stop at the moment the fold sees this worker's claim (or the event its reservation takes), before
      // the dispatcher confirms it.
      let stopping: Promise<number> | undefined;
      const watch = m1.records$().subscribe((r) => {
        if (r.type === seen && !stopping)
          stopping = sub.stop().then(() => {
            stopped = true;
            return active;
          });
      });
      const e = await q1.publish(1);
      await until(() => stopping, 'the claim');
      watch.unsubscribe();
      expect(await stopping).toBe(0); // nothing still running when stop() resolved
      await new Promise((r) => setTimeout(r, 30));
      expect(lateStarts).toBe(0);

      // Released, not left to a 60 s lease: another worker runs it now.
      const m2 = await h.manager({ store, leaseMs: 60_000 });
      await m2.queue<number>('jobs').subscribe(() => undefined, { name: 'w' });
      const r = await m2.queue('jobs').waitForResult(e.id, { signal: AbortSignal.timeout(5_000) });
      expect(r).toMatchObject({ status: 'ok', workerId: m2.workerId });
      const released = types(await readAll(m2), 'claim.released') as RecordOf<'claim.released'>[];
      expect(released.map((x) => x.workerId)).toEqual([m1.workerId]);
    });

    it('leaves no timer behind once closed', async () => {
      const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
      const baseline = timers();
      const m = await createQueueManager({ store: await h.url(), handleSignals: false, heartbeatMs: 50 });
      const q = m.queue<number>('jobs');
      await q.subscribe(() => undefined, { name: 'w', timeout: 10_000 });
      await q.subscribe(() => undefined, { name: 'b', delivery: 'broadcast' });
      await q.publish(1, { delay: 60_000 }); // a wake-up timer for the held event
      const e = await q.publish(2);
      await q.waitForResult(e.id, { subscriber: 'w' });
      expect(timers()).toBeGreaterThan(baseline);
      await m.close();
      await new Promise((r) => setImmediate(r));
      // ≤: a timer of an earlier test may have ended meanwhile; none of this manager's may remain
      expect(timers()).toBeLessThanOrEqual(baseline);
    });
  });

  describe('closed manager', () => {
    it('rejects work after close with a closed error', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      await m.close();
      expect(() => m.queue('jobs')).toThrow(expect.objectContaining({ code: 'closed' }) as Error);
      await expect(q.publish(1)).rejects.toMatchObject({ code: 'closed' });
    });
  });
}
