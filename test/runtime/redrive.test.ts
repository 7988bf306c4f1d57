import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError, type QueueManager, type StoredRecord } from '../../index.js';
import { readAll, foldWithInvariants } from '../support/log.js';
import { manager, memoryUrl } from '../support/manager.js';
import { tempDir } from '../support/temp.js';
import { deferred, until } from '../support/wait.js';

/** Folds the whole log again with the invariant checker: redrive must keep every claim and result valid. */
async function checkInvariants(m: QueueManager): Promise<void> {
  expect(foldWithInvariants(await readAll(m)).violations).toEqual([]);
}

const deadCount = (m: QueueManager, name: string) =>
  m.inspect().subscribers.find((s) => s.name === name)?.dead ?? 0;

describe.each([
  ['memory', () => Promise.resolve(memoryUrl())],
  ['filesystem', async () => `file:${await tempDir()}`],
])('redrive (%s)', (_name, url) => {
  it('runs the matching dead events again with a fresh budget; their results are accepted', async () => {
    const store = await url();
    const m = await manager({ store });
    const q = m.queue<{ n: number; error: string }>('jobs');
    let broken = true;
    const runs: [number, number][] = [];
    await q.subscribe(
      (e, ctx) => {
        runs.push([e.payload.n, ctx.attempt]);
        if (broken || e.payload.error === 'other') throw new Error(e.payload.error);
      },
      { name: 'flaky', retry: { limit: 1, minBackoff: 1, maxBackoff: 1 } },
    );
    const [a, b, c] = await q.publishMany([
      { n: 1, error: 'boom' },
      { n: 2, error: 'boom' },
      { n: 3, error: 'other' },
    ]);
    await until(() => deadCount(m, 'flaky') === 3, 'three dead');
    // one more event, done: the dead ones are all below the subscriber's finishedBelow now
    broken = false;
    const d = await q.publish({ n: 4, error: 'none' });
    await q.waitForResult(d.id);

    const all = await q.deadEvents({ subscriber: 'flaky' });
    expect(all.map((x) => [x.eventId, x.attempt, x.error?.message])).toEqual([
      [a!.id, 2, 'boom'],
      [b!.id, 2, 'boom'],
      [c!.id, 2, 'other'],
    ]);
    expect(await q.deadEvents({ subscriber: 'flaky', errorMatches: /^Error: bo+m$/ })).toHaveLength(2);
    expect(await q.deadEvents({ subscriber: 'flaky', deadBefore: all[0]!.deadAt })).toEqual([]);
    expect(await q.deadEvents({ subscriber: 'flaky', ids: [c!.id, d.id] })).toHaveLength(1);

    runs.length = 0;
    expect(await q.redrive({ subscriber: 'flaky', errorMatches: 'boom' })).toBe(2);
    for (const e of [a!, b!]) {
      const ok = await until(async () => (await q.getResults(e.id)).find((r) => r.status === 'ok'), 'ok');
      // attempt 1 again (a fresh budget), and accepted: not fenced by the first run's attempt 1
      expect([ok.attempt, ok.accepted, ok.workerId]).toEqual([1, true, m.workerId]);
    }
    expect(runs.sort()).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(deadCount(m, 'flaky')).toBe(1);
    expect((await q.deadEvents({ subscriber: 'flaky' })).map((x) => x.eventId)).toEqual([c!.id]);
    // nothing matches any more: nothing is appended
    const head = await m.store.head();
    expect(await q.redrive({ subscriber: 'flaky', ids: [a!.id] })).toBe(0);
    expect(await m.store.head()).toBe(head);

    // a redriven event that fails again has its whole budget (2 attempts), then is dead again
    runs.length = 0;
    expect(await q.redrive({ subscriber: 'flaky' })).toBe(1);
    await until(() => runs.length === 2 && deadCount(m, 'flaky') === 1, 'dead again');
    expect(runs).toEqual([
      [3, 1],
      [3, 2],
    ]);
    const again = await q.deadEvents({ subscriber: 'flaky' });
    expect(again.map((x) => [x.eventId, x.attempt])).toEqual([[c!.id, 2]]);
    expect(again[0]!.deadAt).toBeGreaterThan(all[2]!.deadAt);
    const row = m.inspect().subscribers.find((s) => s.name === 'flaky')!;
    expect([row.depth, row.inFlight, row.lag, row.deadPositions]).toEqual([0, 0, 0, [c!.position]]);
    await checkInvariants(m);
  });

  it('the fold puts each event back once, only while it is dead, for every worker alike', async () => {
    const store = await url();
    const m1 = await manager({ store });
    const q1 = m1.queue<number>('jobs');
    let fail = true;
    const seen: number[] = [];
    await q1.subscribe(
      (e) => {
        if (fail) throw new Error('nope');
        seen.push(e.payload);
      },
      { name: 'w' },
    );
    const events = await q1.publishMany([1, 2]);
    await until(() => deadCount(m1, 'w') === 2, 'dead');
    const m2 = await manager({ store });
    const q2 = m2.queue<number>('jobs');
    fail = false;
    await q2.subscribe((e) => void seen.push(e.payload), { name: 'w' });
    // two redrive records for the same event, one after the other: the second finds it not dead
    const subscriberId = 'jobs/w';
    const eventPositions = [events[0]!.position];
    const { positions } = await m1.store.append([
      { type: 'events.redriven', queue: 'jobs', subscriberId, eventPositions },
      { type: 'events.redriven', queue: 'jobs', subscriberId, eventPositions },
    ]);
    await until(async () => (await q2.getResults(events[0]!.id)).some((r) => r.status === 'ok'), 'ran');
    for (const m of [m1, m2]) {
      await m.ready();
      expect(m.inspect().subscribers.find((s) => s.name === 'w')?.deadPositions).toEqual([
        events[1]!.position,
      ]);
    }
    expect((await readAll(m2)).filter((r: StoredRecord) => positions.includes(r.position))).toHaveLength(2);
    expect(await q2.redrive({ subscriber: 'w' })).toBe(1);
    await until(() => seen.length === 2, 'both ran');
    expect(seen.sort()).toEqual([1, 2]);
    await checkInvariants(m2);
  });

  it('waitForResult after a redrive waits for the new attempt, not the dead result before it', async () => {
    const m = await manager({ store: await url() });
    const q = m.queue<{ n: number }>('jobs');
    let gate = deferred();
    let failing = true;
    await q.subscribe(
      async () => {
        await gate.promise;
        if (failing) throw new Error('boom');
      },
      { name: 'w', retry: { limit: 0 } },
    );
    const e = await q.publish({ n: 1 });
    gate.resolve();
    const dead = await q.waitForResult(e.id);
    expect([dead.status, dead.attempt]).toEqual(['failed', 1]);

    // Redriven, its new attempt held at the gate: the dead result is not the answer any more.
    gate = deferred();
    failing = false;
    expect(await q.redrive({ subscriber: 'w' })).toBe(1);
    const redrivenAt = (await readAll(m)).find((r) => r.type === 'events.redriven')!.position;
    const waiting = q.waitForResult(e.id);
    gate.resolve();
    const ok = await waiting;
    expect([ok.status, ok.attempt]).toEqual(['ok', 1]);
    expect(ok.position).toBeGreaterThan(redrivenAt);
    expect(await q.waitForResult(e.id)).toEqual(ok);

    // Dead, redriven, dead again: the second death is the answer, not the first.
    failing = true;
    const f = await q.publish({ n: 2 });
    const first = await q.waitForResult(f.id);
    gate = deferred();
    expect(await q.redrive({ subscriber: 'w' })).toBe(1);
    const waitingAgain = q.waitForResult(f.id);
    gate.resolve();
    const again = await waitingAgain;
    expect([again.status, again.attempt]).toEqual(['failed', 1]);
    expect(again.position).toBeGreaterThan(first.position);
    expect(await q.waitForResult(f.id)).toEqual(again);
  });
});

describe('redrive edges', () => {
  it('lists and redrives every dead event, past the 1,000 a subscriber row shows', async () => {
    const m = await manager();
    const q = m.queue<number>('jobs');
    let fail = true;
    let ok = 0;
    await q.subscribe(
      () => {
        if (fail) throw new Error('nope');
        ok++;
      },
      { name: 'w', concurrency: 50 },
    );
    const events = await q.publishMany(Array.from({ length: 1100 }, (_, n) => n));
    await until(() => deadCount(m, 'w') === 1100, 'all dead', 30_000);
    const row = m.inspect().subscribers.find((s) => s.name === 'w')!;
    expect(row.deadPositions).toHaveLength(1000);
    expect(row.deadPositions.at(-1)).toBe(events.at(-1)!.position);
    expect(await q.deadEvents({ subscriber: 'w' })).toHaveLength(1100);
    fail = false;
    expect(await q.redrive({ subscriber: 'w' })).toBe(1100);
    await until(() => ok === 1100, 'all ran again', 30_000);
    expect(deadCount(m, 'w')).toBe(0);
  });

  it('refuses what it cannot redrive, saying what was expected', async () => {
    const m = await manager();
    const q = m.queue<number>('jobs');
    await q.subscribe(() => undefined, { name: 'all', delivery: 'broadcast' });
    await expect(q.redrive({ subscriber: 'ghost' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(q.redrive({ subscriber: 'all' })).rejects.toThrow(/broadcast/);
    const bad = [
      { subscriber: 'all', errorMatches: 3 },
      { subscriber: 'all', deadBefore: 'yesterday' },
      { subscriber: 'all', ids: 'x' },
      { subscriber: 'all', limit: 3 },
      { subscriber: '' },
    ];
    for (const options of bad) {
      await expect(q.deadEvents(options as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });
});
