import { firstValueFrom, filter } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TimeoutError, type StoredRecord, type QueueResult, type RecordOf } from '../../../index.js';
import { subscriberRow } from '../../support/inspect.js';
import { readAll } from '../../support/log.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function retryTimeoutContract(h: RuntimeHarness): void {
  class Transient extends Error {
    override name = 'Transient';
  }
  class Fatal extends Error {
    override name = 'Fatal';
  }

  function claimsOf(log: StoredRecord[], eventId: string): RecordOf<'claim.acquired'>[] {
    return log.filter(
      (r): r is RecordOf<'claim.acquired'> =>
        r.type === 'claim.acquired' && (r as RecordOf<'claim.acquired'>).eventId === eventId,
    );
  }

  describe('retries', () => {
    it('retries a failure while retries are left, with a growing capped backoff, then records ok', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      const attempts: number[] = [];
      await q.subscribe(
        (_e, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt < 4) throw new Transient(`attempt ${ctx.attempt}`);
          return { done: true };
        },
        { name: 'flaky', retry: { limit: 3, minBackoff: 10, maxBackoff: 15 } },
      );
      const e = await q.publish('x');
      const final = await q.waitForResult(e.id);
      expect(final).toMatchObject({ status: 'ok', attempt: 4, details: { done: true }, accepted: true });
      expect(attempts).toEqual([1, 2, 3, 4]);

      const results = await q.getResults(e.id);
      expect(results.map((r) => [r.status, r.attempt])).toEqual([
        ['failed', 1],
        ['failed', 2],
        ['failed', 3],
        ['ok', 4],
      ]);
      expect(results.slice(0, 3).every((r) => r.retryAt !== undefined && r.error?.name === 'Transient')).toBe(
        true,
      );
      expect(results[3]?.retryAt).toBeUndefined();

      // Backoff by log time: min(maxBackoff, minBackoff·2^(n-1)) with jitter over its upper half, and the
      // next attempt's claim never before retryAt.
      // The first attempt ran on the worker's reservation: its claim is the event itself (no claim record,
      // the lease from the event's log time); the retries were claimed.
      const claimed = claimsOf(await readAll(m), e.id);
      expect(claimed.map((c) => c.attempt)).toEqual([2, 3, 4]);
      const claims = [{ attempt: 1, time: e.publishedAt }, ...claimed];
      const bases = [10, 15, 15];
      for (const [i, r] of results.slice(0, 3).entries()) {
        const retryAt = r.retryAt!;
        const base = bases[i]!;
        expect(retryAt - claims[i]!.time).toBeGreaterThanOrEqual(base / 2);
        expect(retryAt - r.recordedAt).toBeLessThanOrEqual(base);
        expect(claims[i + 1]!.time).toBeGreaterThanOrEqual(retryAt);
      }
    });

    it('retries only the error classes in retryOn: another class is dead at once', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      let calls = 0;
      await q.subscribe(
        (e) => {
          calls++;
          throw e.payload === 'fatal' ? new Fatal('no') : new Transient('again');
        },
        { name: 'picky', retry: { limit: 1, minBackoff: 1, maxBackoff: 1, retryOn: [Transient] } },
      );
      const fatal = await q.publish('fatal');
      const dead = await q.waitForResult(fatal.id);
      expect(dead).toMatchObject({ status: 'failed', attempt: 1, error: { name: 'Fatal' } });
      expect(dead.retryAt).toBeUndefined();

      const transient = await q.publish('transient');
      const last = await q.waitForResult(transient.id);
      expect(last).toMatchObject({ status: 'failed', attempt: 2 }); // one retry, then the limit
      expect((await q.getResults(transient.id)).map((r) => r.retryAt !== undefined)).toEqual([true, false]);
      expect((await q.getResults(fatal.id)).length).toBe(1);
      expect(calls).toBe(3);
      expect(subscriberRow(m, 'jobs', 'picky')?.deadPositions).toEqual([fatal.position, transient.position]);
    });

    it('retries only what a retryOn predicate accepts', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      await q.subscribe(
        (e, ctx) => {
          if (ctx.attempt === 1) throw new Error(e.payload);
        },
        {
          name: 'pred',
          retry: {
            limit: 2,
            minBackoff: 1,
            maxBackoff: 2,
            retryOn: (err) => (err as Error).message === 'retry me',
          },
        },
      );
      const yes = await q.publish('retry me');
      const no = await q.publish('give up');
      expect(await q.waitForResult(yes.id)).toMatchObject({ status: 'ok', attempt: 2 });
      expect(await q.waitForResult(no.id)).toMatchObject({ status: 'failed', attempt: 1 });
      expect((await q.getResults(no.id)).length).toBe(1);
    });

    it('marks an event dead when the retries run out: in stats$, in the claims view and in searchResults', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      let calls = 0;
      await q.subscribe(
        () => {
          calls++;
          throw new Transient('always');
        },
        { name: 'doomed', retry: { limit: 2, minBackoff: 1, maxBackoff: 2 } },
      );
      const ok = m.queue<string>('jobs');
      const e = await ok.publish('x');
      const final = await q.waitForResult(e.id, { subscriber: 'doomed' });
      expect(final).toMatchObject({ status: 'failed', attempt: 3 });
      expect(calls).toBe(3);

      const stats = await firstValueFrom(
        q.views.stats$.pipe(filter((s) => (s.subscribers.find((x) => x.name === 'doomed')?.dead ?? 0) > 0)),
      );
      expect(stats.subscribers.find((x) => x.name === 'doomed')).toMatchObject({
        dead: 1,
        failed: 3,
        done: 0,
        depth: 0,
        inFlight: 0,
      });
      expect(stats).toMatchObject({ ok: 0, failed: 3 });
      expect(subscriberRow(m, 'jobs', 'doomed')?.deadPositions).toEqual([e.position]);

      const failed = await q.searchResults({ status: 'failed' });
      expect(failed.items.map((r: QueueResult) => [r.eventId, r.attempt])).toEqual([
        [e.id, 1],
        [e.id, 2],
        [e.id, 3],
      ]);
      expect(failed.nextPageId).toBeNull();
      expect((await q.searchResults({ status: 'ok' })).items).toEqual([]);
    });
    it('retries a broadcast subscriber’s failure on the same worker', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      const attempts: number[] = [];
      await q.subscribe(
        (_e, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt < 3) throw new Transient('again');
          return 'third time';
        },
        { name: 'fan', delivery: 'broadcast', retry: { limit: 2, minBackoff: 5, maxBackoff: 10 } },
      );
      const e = await q.publish('x');
      const final = await q.waitForResult(e.id, { signal: AbortSignal.timeout(5_000) });
      expect(final).toMatchObject({ status: 'ok', attempt: 3, details: 'third time', workerId: m.workerId });
      expect(attempts).toEqual([1, 2, 3]);
      const results = await q.getResults(e.id);
      expect(results.map((r) => [r.status, r.attempt, r.retryAt !== undefined])).toEqual([
        ['failed', 1, true],
        ['failed', 2, true],
        ['ok', 3, false],
      ]);
      // the next attempt's result comes after the retry time, by log time
      expect(results[1]!.recordedAt).toBeGreaterThanOrEqual(results[0]!.retryAt!);
      expect(results[2]!.recordedAt).toBeGreaterThanOrEqual(results[1]!.retryAt!);
    });
  });

  describe('timeouts', () => {
    it('aborts ctx.signal with a TimeoutError and records a timeout result', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      let reason: unknown;
      await q.subscribe(
        (_e, ctx) =>
          new Promise<void>((resolve) => {
            ctx.signal.addEventListener('abort', () => {
              reason = ctx.signal.reason;
              resolve();
            });
          }),
        { name: 'slow', timeout: 30 },
      );
      const e = await q.publish('x');
      const r = await q.waitForResult(e.id);
      expect(r).toMatchObject({ status: 'timeout', attempt: 1, error: { name: 'TimeoutError' } });
      expect(reason).toBeInstanceOf(TimeoutError);
      expect(subscriberRow(m, 'jobs', 'slow')).toMatchObject({ dead: 1, failed: 1 });
    });

    it('records the timeout even when the handler ignores the signal, and retries it when allowed', async () => {
      const m = await h.manager();
      const q = m.queue<string>('jobs');
      const attempts: number[] = [];
      await q.subscribe(
        (_e, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt === 1) return new Promise(() => undefined); // never settles
          return 'fine';
        },
        {
          name: 'stuck',
          timeout: 30,
          retry: { limit: 1, minBackoff: 1, maxBackoff: 1, retryOn: [TimeoutError] },
        },
      );
      const e = await q.publish('x');
      expect(await q.waitForResult(e.id)).toMatchObject({ status: 'ok', attempt: 2, details: 'fine' });
      const rs = await q.getResults(e.id);
      expect(rs.map((r) => r.status)).toEqual(['timeout', 'ok']);
      expect(rs[0]?.retryAt).toBeDefined();
      expect(attempts).toEqual([1, 2]);
      const stats = await until(() => m.inspect({ queues: ['jobs'] }).stats[0], 'stats');
      expect(stats).toMatchObject({ timeout: 1, ok: 1 });
    });
  });
}
