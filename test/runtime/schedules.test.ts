import { describe, expect, it } from 'vitest';
import { isEventyError, type QueueEvent, type QueueManager } from '../../index.js';
import { readAll } from '../support/log.js';
import { manager, memoryUrl } from '../support/manager.js';
import { tempDir } from '../support/temp.js';
import { until } from '../support/wait.js';

/** Every fired event of a schedule in the log, keyed-first ones only (what the fold counts). */
async function fires(
  m: QueueManager,
  id: string,
): Promise<{ slot: number; time: number; payload: unknown }[]> {
  const seen = new Set<string>();
  const out: { slot: number; time: number; payload: unknown }[] = [];
  for (const r of await readAll(m)) {
    if (r.type !== 'event.published') continue;
    const h = (r as unknown as QueueEvent & { headers: Record<string, string> }).headers;
    if (h.scheduleId !== id || h.key === undefined || seen.has(h.key)) continue;
    seen.add(h.key);
    out.push({
      slot: Date.parse(h.scheduledFor as string),
      time: r.time,
      payload: (r as { payload?: unknown }).payload,
    });
  }
  return out;
}

describe('queue.schedule', () => {
  it('fires every slot as an ordinary keyed event a subscriber handles; getSchedule and searchSchedules say what fired', async () => {
    const m = await manager({ store: memoryUrl() });
    const q = m.queue<{ n: number }>('jobs');
    const handled: QueueEvent<{ n: number }>[] = [];
    await q.subscribe((e) => void handled.push(e), { name: 'h' });
    const created = await q.schedule('tick', { every: '100ms', payload: { n: 1 }, headers: { team: 'a' } });
    expect(created).toMatchObject({ id: 'tick', every: 100, fired: 0, lastSlot: null, ended: false });
    expect(created.nextSlot).toBe(Math.floor(created.createdAt / 100) * 100 + 100);
    await until(() => handled.length >= 3, 'three fires');
    const e = handled[0] as QueueEvent<{ n: number }>;
    expect(e.payload).toEqual({ n: 1 });
    expect(e.headers).toMatchObject({
      team: 'a',
      scheduleId: 'tick',
      scheduledFor: created.nextSlot === null ? '' : new Date(created.nextSlot).toISOString(),
      key: `schedule:tick:${new Date(created.nextSlot as number).toISOString()}`,
    });
    const info = await q.getSchedule('tick');
    expect(info.fired).toBeGreaterThanOrEqual(3);
    expect(info.nextSlot).toBe((info.lastSlot as number) + 100);
    const page = await q.searchSchedules({ limit: 10 });
    expect(page.items.map((s) => s.id)).toEqual(['tick']);
  });

  it('unschedule: true once, then false; a removed schedule stops firing and can be added again', async () => {
    const m = await manager({ store: memoryUrl() });
    const q = m.queue('jobs');
    await q.subscribe(() => undefined, { name: 'h' });
    await q.schedule('x', { every: 50, payload: 'x' });
    await until(async () => (await q.getSchedule('x')).fired >= 1, 'a fire');
    const [a, b] = await Promise.all([q.unschedule('x'), q.unschedule('x')]);
    expect([a, b].sort()).toEqual([false, true]);
    expect(await q.unschedule('x')).toBe(false);
    await expect(q.getSchedule('x')).rejects.toSatisfy((e) => isEventyError(e, 'not-found'));
    const before = (await fires(m, 'x')).length;
    await new Promise((r) => setTimeout(r, 200));
    expect((await fires(m, 'x')).length).toBe(before);
    // BullMQ #3063: a removed-then-upserted scheduler never ran again. Here it does, from a fresh count.
    await q.schedule('x', { every: 50, payload: 'again' });
    await until(async () => (await q.getSchedule('x')).fired >= 2, 'fires after re-adding');
    expect((await fires(m, 'x')).at(-1)?.payload).toBe('again');
  });

  it('10 upserts within 100 ms: one schedule, one event per slot, the last definition from the next slot', async () => {
    const m = await manager({ store: memoryUrl() });
    const q = m.queue('jobs');
    await q.subscribe(() => undefined, { name: 'h' });
    await q.schedule('u', { every: 60, payload: 0 });
    await until(async () => (await q.getSchedule('u')).fired >= 2, 'first fires');
    const upserts = [];
    for (let i = 1; i <= 10; i++) upserts.push(q.schedule('u', { every: 60 + 10 * i, payload: i }));
    const infos = await Promise.all(upserts);
    const last = infos.reduce((a, b) => (a.updatedAt >= b.updatedAt ? a : b));
    await until(async () => (await q.getSchedule('u')).fired >= 8, 'fires after the upserts');
    const page = await q.searchSchedules();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ every: 160, payload: 10 });
    const f = await fires(m, 'u');
    // One event per slot, in slot order, and after the last upsert only the last definition's slots.
    expect(new Set(f.map((x) => x.slot)).size).toBe(f.length);
    const after = f.filter((x) => x.slot > last.updatedAt);
    expect(after.length).toBeGreaterThanOrEqual(3);
    for (const x of after) {
      expect(x.slot % 160).toBe(0);
      expect(x.payload).toBe(10);
    }
    // Same definition again: nothing appended.
    const head = await m.store.head();
    await q.schedule('u', { every: 160, payload: 10 });
    expect(await m.store.head()).toBe(head);
  });

  it('limit, endAt and a one-off end a schedule, and searchSchedules says so', async () => {
    const m = await manager({ store: memoryUrl() });
    const q = m.queue('jobs');
    await q.subscribe(() => undefined, { name: 'h' });
    const now = Date.now();
    await q.schedule('limited', { every: 30, limit: 3, payload: 1 });
    await q.schedule('ending', { every: 30, endAt: now + 150, payload: 2 });
    await q.schedule('once', { at: new Date(now + 50), payload: 3 });
    await until(async () => (await q.searchSchedules()).items.every((s) => s.ended), 'all ended', 5000);
    const byId = Object.fromEntries((await q.searchSchedules()).items.map((s) => [s.id, s]));
    expect(byId.limited).toMatchObject({ fired: 3, ended: true, nextSlot: null });
    expect(byId.once).toMatchObject({ fired: 1, ended: true, lastSlot: now + 50 });
    expect(byId.ending?.lastSlot).toBeLessThanOrEqual(now + 150);
    expect((await fires(m, 'limited')).length).toBe(3);
  });

  it('refuses bad definitions with a typed error before appending anything', async () => {
    const m = await manager({ store: memoryUrl() });
    const q = m.queue('jobs');
    const bad = async (o: Record<string, unknown>, message: RegExp) => {
      const e = await q.schedule('b', o as never).catch((x: unknown) => x);
      expect(isEventyError(e, 'invalid-argument'), String(e)).toBe(true);
      expect((e as Error).message).toMatch(message);
    };
    await bad({ payload: 1 }, /exactly one of cron, every or at, got: none/);
    await bad({ every: 10, cron: '* * * * *', payload: 1 }, /got: cron, every/);
    await bad({ cron: '61 * * * *', payload: 1 }, /cron "61 \* \* \* \*" is not valid/);
    await bad({ cron: '* * *', payload: 1 }, /5 fields .* or 6/);
    await bad({ cron: '* * * * *', tz: 'Mars/Olympus', payload: 1 }, /tz "Mars\/Olympus" is not valid/);
    await bad({ every: '5 minutes', payload: 1 }, /duration like/);
    await bad({ every: 0, payload: 1 }, /every must be/);
    await bad({ at: 'tomorrow', payload: 1 }, /at must be a time/);
    await bad({ every: 10 }, /needs a payload/);
    await bad({ every: 10, payload: 1, catchUp: 'some' }, /catchUp must be/);
    await bad({ every: 10, payload: 1, limit: 0 }, /limit must be a positive integer/);
    await bad({ every: 10, payload: 1, headers: { key: 'k' } }, /header key is set by the scheduler/);
    await bad({ every: 10, payload: 1, evry: 1 }, /evry/);
    expect(await m.store.head()).toBe(0);
  });

  it('a manager with scheduler: false fires nothing; a schedule outlives its process (it lives in the log)', async () => {
    const url = `file:${await tempDir()}`;
    const a = await manager({ store: url });
    await a.queue('jobs').schedule('later', { every: 50, payload: 1 });
    await a.close();
    const off = await manager({ store: url, scheduler: false });
    await off.queue('jobs').subscribe(() => undefined, { name: 'h' });
    await new Promise((r) => setTimeout(r, 200));
    expect((await off.queue('jobs').getSchedule('later')).fired).toBe(0);
    await off.close();
    const b = await manager({ store: url });
    await b.queue('jobs').subscribe(() => undefined, { name: 'h' });
    await until(
      async () => (await b.queue('jobs').getSchedule('later')).fired >= 2,
      'fires in a later process',
    );
  });
});

describe('catch-up after every process stopped for 2 s', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** One policy: fires before the stop, 2 s down, a restart 300 ms into a 1 s period (no slot on time). */
  async function run(catchUp: 'none' | 'latest' | 'all') {
    const url = `file:${await tempDir()}`;
    const opts = { store: url, scheduler: { lateAfterMs: 100 } };
    const a = await manager(opts);
    await a.queue('jobs').subscribe(() => undefined, { name: 'h' });
    await a.queue('jobs').schedule('c', { every: 1000, payload: 1, catchUp, maxCatchUp: 2 });
    await until(async () => (await a.queue('jobs').getSchedule('c')).fired >= 1, 'a fire before the stop');
    await a.close();
    const stoppedAt = Date.now();
    await sleep(2000);
    await sleep((1300 - (Date.now() % 1000)) % 1000);
    const b = await manager(opts);
    await b.queue('jobs').subscribe(() => undefined, { name: 'h' });
    const hostedAt = Date.now();
    await until(async () => (await fires(b, 'c')).some((f) => f.slot > hostedAt), 'the next slot', 3000);
    return { f: await fires(b, 'c'), stoppedAt, hostedAt };
  }

  it('none drops the missed slots, latest fires the last one, all fires up to maxCatchUp; then every slot once', async () => {
    const runs = await Promise.all(
      (['none', 'latest', 'all'] as const).map(async (c) => [c, await run(c)] as const),
    );
    for (const [catchUp, { f, stoppedAt, hostedAt }] of runs) {
      // The restart came 300–600 ms into a period: the slot before it was late, none was on time.
      expect(hostedAt % 1000, 'restart phase').toBeGreaterThan(250);
      const last = f.filter((x) => x.time < stoppedAt).at(-1)?.slot as number;
      const missedSlots: number[] = [];
      for (let s = last + 1000; s < hostedAt; s += 1000) missedSlots.push(s);
      expect(missedSlots.length).toBeGreaterThanOrEqual(2);
      const firedMissed = f.filter((x) => x.slot > last && x.slot < hostedAt).map((x) => x.slot);
      const expected = { none: [], latest: missedSlots.slice(-1), all: missedSlots.slice(-2) }[catchUp];
      expect(firedMissed, catchUp).toEqual(expected);
      expect(f.some((x) => x.slot === Math.floor(hostedAt / 1000) * 1000 + 1000)).toBe(true);
      expect(new Set(f.map((x) => x.slot)).size).toBe(f.length);
    }
  });
});

describe('missed means nobody hosted the queue, not a late turn', () => {
  /** FNV-1a as the scheduler spreads schedule ids over the live hosts. */
  const hash = (s: string): number => {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h >>> 0;
  };

  it('a worker whose turn comes later than lateAfterMs fires every slot the worker first in line does not', async () => {
    const url = memoryUrl();
    // The first in line hosts the queue but fires nothing; the next waits 300 ms, longer than lateAfterMs.
    const first = await manager({ store: url, workerId: 'a-first', scheduler: false });
    const next = await manager({
      store: url,
      workerId: 'b-next',
      scheduler: { graceMs: 300, lateAfterMs: 100 },
    });
    await first.queue('jobs').subscribe(() => undefined, { name: 'h' });
    await next.queue('jobs').subscribe(() => undefined, { name: 'h' });
    await until(() => next.inspect().workers.filter((w) => w.alive).length === 2, 'both hosts live');
    // Ids that hash to the first of the two sorted hosts ('a-first').
    const all = (['none', 'latest'] as const).flatMap((catchUp) =>
      Array.from({ length: 40 }, (_, i) => `${catchUp}-${i}`)
        .filter((id) => hash(id) % 2 === 0)
        .slice(0, 3),
    );
    for (const id of all) {
      const catchUp = id.startsWith('none') ? 'none' : 'latest';
      await next.queue('jobs').schedule(id, { every: 200, payload: 1, catchUp });
    }
    await until(
      async () => (await Promise.all(all.map((id) => fires(next, id)))).every((f) => f.length >= 4),
      'every schedule firing',
    );
    for (const id of all) {
      const f = await fires(next, id);
      // No slot lost between the first and the last fired, each fired a turn (300 ms) after its time.
      for (let i = 1; i < f.length; i++) expect(f[i]!.slot - f[i - 1]!.slot, id).toBe(200);
      for (const x of f) expect(x.time - x.slot, id).toBeGreaterThanOrEqual(300);
    }
  });
});
