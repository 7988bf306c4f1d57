import { describe, expect, it } from 'vitest';
import { isEventyError, type Page, type Queue, type QueueEvent, type QueueResult } from '../../../index.js';
import type { RuntimeHarness } from '../../support/manager.js';
import { until } from '../../support/wait.js';

/** Part of the runtime contract (test/contract/runtime-contract.ts). */
export function queriesContract(h: RuntimeHarness): void {
  async function allPages<I>(
    search: (o: { pageId: string | null; limit: number }) => Promise<Page<I>>,
    limit: number,
  ): Promise<Page<I>[]> {
    const pages: Page<I>[] = [];
    let pageId: string | null = null;
    do {
      const page: Page<I> = await search({ pageId, limit });
      pages.push(page);
      pageId = page.nextPageId;
    } while (pageId !== null && pages.length < 1000);
    return pages;
  }

  /** Waits until the log clock has moved past `time`, so the next batch gets a later log time. */
  async function pastTime(time: number): Promise<void> {
    await until(() => Date.now() > time, 'the clock to move');
  }

  describe('events', () => {
    it('gets events by id, null in a batch where missing, and not-found for a missing id', async () => {
      const m = await h.manager();
      const q = m.queue<{ n: number }>('jobs');
      const other = m.queue<string>('other');
      const a = await q.publish({ n: 1 }, { correlationId: 'c', headers: { h: 'v' } });
      const b = await q.publish({ n: 2 });
      const x = await other.publish('x');
      expect(await q.getEvent(a.id)).toEqual(a);
      expect(a).toMatchObject({ queue: 'jobs', payload: { n: 1 }, headers: { correlationId: 'c', h: 'v' } });
      expect(await q.batchGetEvents([b.id, 'missing', a.id, x.id])).toEqual([b, null, a, null]);
      await expect(q.getEvent('missing')).rejects.toMatchObject({ code: 'not-found', id: 'missing' });
      // an id of another queue is not this queue's event
      await expect(q.getEvent(x.id)).rejects.toMatchObject({ code: 'not-found' });
    });

    it('pages through many events: stable, disjoint, in order, nextPageId null on the last page', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const noise = m.queue<number>('noise');
      const events: QueueEvent<number>[] = [];
      for (let i = 0; i < 250; i += 50) {
        events.push(...(await q.publishMany(Array.from({ length: 50 }, (_, k) => i + k))));
        await noise.publishMany([1, 2, 3]); // other queues interleave in the log
      }
      const search = (o: { pageId: string | null; limit: number }) => q.searchEvents(o);
      const pages = await allPages(search, 7);
      expect(pages).toHaveLength(Math.ceil(250 / 7));
      expect(pages.slice(0, -1).every((p) => p.items.length === 7 && p.nextPageId !== null)).toBe(true);
      expect(pages.at(-1)?.nextPageId).toBeNull();
      const ids = pages.flatMap((p) => p.items.map((e) => e.id));
      expect(ids).toEqual(events.map((e) => e.id)); // every event once, in publish order
      expect(new Set(ids).size).toBe(250);

      // stable: the same page id gives the same page, even after more events were published
      const again = await q.searchEvents({ pageId: pages[3]!.nextPageId, limit: 7 });
      await q.publishMany([1000, 1001]);
      const later = await q.searchEvents({ pageId: pages[3]!.nextPageId, limit: 7 });
      expect(later).toEqual(again);
      expect(again).toEqual(pages[4]);

      // default limit 100; a full last page has no empty page after it
      const byHundred = await allPages((o) => q.searchEvents({ pageId: o.pageId }), 100);
      expect(byHundred.map((p) => p.items.length)).toEqual([100, 100, 52]);
      const exact = m.queue<number>('exact');
      await exact.publishMany(Array.from({ length: 21 }, (_, i) => i));
      const thirds = await allPages((o) => exact.searchEvents(o), 7);
      expect(thirds.map((p) => [p.items.length, p.nextPageId === null])).toEqual([
        [7, false],
        [7, false],
        [7, true],
      ]);
    });

    it('rejects a limit above 100 (or below 1) and a malformed page id with invalid-argument', async () => {
      const m = await h.manager();
      const q = m.queue('jobs');
      await q.publish(1);
      await expect(q.searchEvents({ limit: 101 })).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.searchEvents({ limit: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.searchEvents({ limit: 2.5 })).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.searchEvents({ pageId: 'page-2' })).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.searchResults({ limit: 500 })).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.searchClaims({ limit: 101 })).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.searchSubscriptions({ limit: 101 })).rejects.toMatchObject({ code: 'invalid-argument' });
      expect((await q.searchEvents({ limit: 100 })).items).toHaveLength(1);
    });

    it('counts events, within publishedAfter / publishedBefore (exclusive, numbers or Dates)', async () => {
      const m = await h.manager();
      const q = m.queue<number>('jobs');
      const [a] = await q.publishMany([1, 2, 3]);
      await pastTime(a!.publishedAt);
      const [b] = await q.publishMany([4, 5]);
      await pastTime(b!.publishedAt);
      const [c] = await q.publishMany([6]);
      expect(a!.publishedAt).toBeLessThan(b!.publishedAt);
      expect(await q.countEvents()).toBe(6);
      expect(await q.countEvents({ publishedAfter: a!.publishedAt })).toBe(3);
      expect(await q.countEvents({ publishedBefore: b!.publishedAt })).toBe(3);
      expect(await q.countEvents({ publishedAfter: a!.publishedAt, publishedBefore: c!.publishedAt })).toBe(
        2,
      );
      expect(await q.countEvents({ publishedAfter: new Date(c!.publishedAt) })).toBe(0);
      const middle = await q.searchEvents({
        publishedAfter: a!.publishedAt,
        publishedBefore: c!.publishedAt,
      });
      expect(middle.items.map((e) => e.payload)).toEqual([4, 5]);
      expect(await m.queue('empty').countEvents()).toBe(0);
    });
  });

  describe('raw claims (createClaim)', () => {
    it('is true for the first caller ever and false after, also across managers and in a race', async () => {
      const store = await h.url();
      const m1 = await h.manager({ store, workerId: 'w1' });
      const m2 = await h.manager({ store, workerId: 'w2' });
      const q1 = m1.queue('jobs');
      const q2 = m2.queue('jobs');
      expect(await q1.createClaim('lock-a', { why: 'first' })).toBe(true);
      expect(await q1.createClaim('lock-a')).toBe(false);
      expect(await q2.createClaim('lock-a')).toBe(false);
      expect(await m2.queue('other').createClaim('lock-a')).toBe(true); // claims are per queue

      const race = await Promise.all([
        q1.createClaim('lock-b'),
        q2.createClaim('lock-b'),
        q1.createClaim('lock-b'),
      ]);
      expect(race.filter(Boolean)).toHaveLength(1);
      const winner = race.indexOf(true) === 1 ? 'w2' : 'w1';

      expect(await q2.getClaim('lock-a')).toMatchObject({
        claimId: 'lock-a',
        queue: 'jobs',
        workerId: 'w1',
        data: { why: 'first' },
      });
      expect((await q1.getClaim('lock-b')).workerId).toBe(winner);
      await expect(q1.getClaim('nope')).rejects.toMatchObject({ code: 'not-found' });
      await expect(q1.createClaim('')).rejects.toMatchObject({ code: 'invalid-argument' });

      await q2.createClaim('lock-c');
      const mine = await q1.searchClaims({ workerId: 'w2' });
      expect(mine.items.map((c) => c.claimId)).toEqual([...(winner === 'w2' ? ['lock-b'] : []), 'lock-c']);
      const all = await q1.searchClaims();
      expect(all.items.map((c) => c.claimId)).toEqual(['lock-a', 'lock-b', 'lock-c']);
      const first = await q1.searchClaims({ limit: 2 });
      const rest = await q1.searchClaims({ limit: 2, pageId: first.nextPageId });
      expect([...first.items, ...rest.items].map((c) => c.claimId)).toEqual(['lock-a', 'lock-b', 'lock-c']);
      expect(rest.nextPageId).toBeNull();
    });
  });

  describe('results', () => {
    async function scenario() {
      const m = await h.manager({ workerId: 'me' });
      const q = m.queue<number>('jobs');
      await q.subscribe(
        (e) => {
          if (e.payload < 0) throw new RangeError('negative');
          return e.payload * 2;
        },
        { name: 'double' },
      );
      await q.subscribe(() => 'seen', { name: 'audit', filter: 'payload > `0`' });
      return { m, q };
    }

    it('gets the results of an event and searches them by event, worker, subscriber, status and time', async () => {
      const { q } = await scenario();
      const [pos, neg] = await q.publishMany([2, -1]);
      for (const e of [pos!, neg!])
        for (const subscriber of ['double', 'audit']) await q.waitForResult(e.id, { subscriber });

      const ofPos = await q.getResults(pos!.id);
      expect(ofPos.map((r) => [r.subscriber, r.status, r.details])).toEqual(
        expect.arrayContaining([
          ['double', 'ok', 4],
          ['audit', 'ok', 'seen'],
        ]),
      );
      expect(ofPos).toHaveLength(2);
      expect(ofPos.every((r) => r.workerId === 'me' && r.accepted && r.eventPosition === pos!.position)).toBe(
        true,
      );
      expect(await q.getResults('missing')).toEqual([]);

      const s = (o: Parameters<Queue<number>['searchResults']>[0]) =>
        q
          .searchResults(o)
          .then((p) =>
            p.items
              .map((r: QueueResult) => `${r.subscriber}:${r.status}:${r.eventId === pos!.id ? 'pos' : 'neg'}`)
              .sort(),
          );
      expect(await s({ eventId: neg!.id })).toEqual(['audit:skipped:neg', 'double:failed:neg']);
      expect(await s({ subscriber: 'double' })).toEqual(['double:failed:neg', 'double:ok:pos']);
      expect(await s({ status: 'failed' })).toEqual(['double:failed:neg']);
      expect(await s({ status: 'skipped', subscriber: 'audit' })).toEqual(['audit:skipped:neg']);
      expect(await s({ workerId: 'someone-else' })).toEqual([]);
      expect(await s({ workerId: 'me' })).toHaveLength(4);
      const failed = (await q.searchResults({ status: 'failed' })).items[0]!;
      expect(failed.error).toMatchObject({ name: 'RangeError', message: 'negative' });
      const all = (await q.searchResults()).items;
      const last = Math.max(...all.map((r) => r.recordedAt));
      expect(await s({ recordedAfter: last })).toEqual([]);
      expect(await s({ recordedBefore: last + 1 })).toHaveLength(4);
    });

    it('waits for the final result: at once when it is there, later when not, per subscriber, abortable', async () => {
      const { q } = await scenario();
      const e = await q.publish(21);
      const live = await q.waitForResult(e.id, { subscriber: 'double' });
      expect(live).toMatchObject({ status: 'ok', details: 42, subscriber: 'double' });
      const recorded = await q.waitForResult(e.id, { subscriber: 'double' }); // already in the log
      expect(recorded).toEqual(live);
      expect((await q.waitForResult(e.id, { subscriber: 'audit' })).details).toBe('seen');

      const controller = new AbortController();
      const never = q.waitForResult('no-such-event', { signal: controller.signal });
      controller.abort(new Error('gave up'));
      await expect(never).rejects.toThrow('gave up');
    });
  });

  describe('waitForResult and publish at the edge', () => {
    it('waitForResult rejects at once with not-found for an event that is not in the log', async () => {
      const m = await h.manager();
      const q = m.queue('jobs');
      await q.publish(1);
      await expect(q.waitForResult('no-such-event')).rejects.toMatchObject({ code: 'not-found' });
    });

    it('waitForResult rejects with an aborted EventyError when its signal aborts', async () => {
      const m = await h.manager();
      const q = m.queue('jobs');
      const e = await q.publish(1); // nobody handles it
      const controller = new AbortController();
      const waiting = q.waitForResult(e.id, { signal: controller.signal });
      controller.abort(new Error('enough'));
      const err = await waiting.catch((x: unknown) => x);
      expect(isEventyError(err, 'aborted')).toBe(true);
      expect((err as Error).cause).toMatchObject({ message: 'enough' });
      await expect(q.waitForResult(e.id, { signal: controller.signal })).rejects.toMatchObject({
        code: 'aborted',
      });
    });

    it('undefined is not a payload', async () => {
      const m = await h.manager();
      const q = m.queue('jobs');
      await expect(q.publish(undefined)).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(q.publishMany([1, undefined, 3])).rejects.toMatchObject({
        code: 'invalid-argument',
        message: expect.stringContaining('index 1') as string,
      });
      expect(await q.countEvents()).toBe(0);
      await q.publish(null);
      expect(await q.countEvents()).toBe(1);
    });
  });
}
