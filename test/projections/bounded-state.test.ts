import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordDraft, StoredRecord } from '../../index.js';
import {
  broadcastDone,
  dispatchFold,
  eventCount,
  floorOf,
  oldestOpen,
  subscriberProgress,
  type DispatchState,
} from '../../projections/dispatch/index.js';
import { compaction } from '../../projections/dispatch/event-index.js';
import { BROADCAST, histories } from '../support/histories.js';
import { acquired, published, Q, registered, result, SUB, worker } from '../support/drafts.js';

const defaults = { ...compaction };
afterEach(() => Object.assign(compaction, defaults));

/** Folds drafts one by one as they are made (the log is never held), stamping positions and times. */
class Folder {
  readonly state = dispatchFold.initial();
  position = 0;
  time = 1_000_000;

  add(draft: RecordDraft, dt = 1): number {
    this.time += dt;
    const r = { ...draft, v: 1, position: this.position++, time: this.time } as StoredRecord;
    dispatchFold.evolve(this.state, r);
    return r.position;
  }
}

describe('the dispatch state stays bounded by the open events, not by history', () => {
  it('folds 200k events finished as they go: the event index, items, priorities and keys stay small', () => {
    const f = new Folder();
    f.add(worker('worker.joined', 'A', 60_000));
    f.add(registered());
    f.add(registered({ delivery: 'broadcast', subscriberId: BROADCAST }));
    const open: number[] = [];
    let largest = 0;
    for (let i = 0; i < 200_000; i++) {
      const extra: Record<string, unknown> = {};
      if (i % 3 === 0) extra.priority = 1 + (i % 5);
      if (i % 7 === 0) Object.assign(extra, { headers: { key: `k${i}` }, keyTtl: 1000 });
      open.push(f.add(published(`e${i}`, extra)));
      // A window of 100 events in flight: the oldest finishes for both subscribers as each comes.
      if (open.length > 100) {
        const event = open.shift() as number;
        f.add(acquired({ event, worker: 'A', leaseMs: 60_000 }));
        f.add(result({ event, worker: 'A' }));
        f.add(result({ event, worker: 'B', subscriberId: BROADCAST }));
      }
      if (i % 10_000 === 0) f.add(worker('worker.heartbeat', 'A', 60_000));
      largest = Math.max(largest, f.state.queues.get(Q)?.positions.length ?? 0);
    }
    const q = f.state.queues.get(Q)!;
    const sub = f.state.subscribers.get(SUB)!;
    expect(eventCount(q)).toBe(200_000);
    expect(q.base).toBeGreaterThan(190_000);
    // held: what is open plus at most twice the least compaction (the dead prefix is dropped at half)
    expect(largest).toBeLessThan(2 * compaction.least + compaction.every + 100);
    expect(q.positions.buffer.byteLength).toBeLessThanOrEqual(8 * 16_384);
    expect(sub.items.size).toBeLessThanOrEqual(100);
    expect(q.priorities.size).toBeLessThan(2 * compaction.least);
    expect(q.keys.size).toBeLessThan(200); // a 1 s window at one keyed event every 7 ms
    expect(subscriberProgress(f.state, sub, f.time)).toMatchObject({ depth: 100, inFlight: 0 });
    expect(oldestOpen(sub, q)).toBe(open[0]);
    expect(sub.counts.done).toBe(200_000 - 100);
  });

  it('gives the room back after a backlog drains', () => {
    const f = new Folder();
    f.add(registered());
    const events = Array.from({ length: 50_000 }, (_, i) => f.add(published(`e${i}`)));
    const q = f.state.queues.get(Q)!;
    const backlog = q.positions.buffer.byteLength;
    for (const event of events) {
      f.add(acquired({ event, worker: 'A', leaseMs: 60_000 }));
      f.add(result({ event, worker: 'A' }));
    }
    for (let i = 0; i < 3 * compaction.every; i++) f.add(published(`late${i}`));
    expect(q.base).toBeGreaterThanOrEqual(50_000);
    expect(q.positions.buffer.byteLength).toBeLessThan(backlog / 4);
  });

  it('keeps every event of a queue without subscribers, and those a slow subscriber has not finished', () => {
    const f = new Folder();
    for (let i = 0; i < 3 * compaction.least; i++) f.add({ ...published(`l${i}`), queue: 'lone' });
    expect(f.state.queues.get('lone')?.base).toBe(0);
    f.add(registered());
    f.add(registered({ subscriberId: 'q/slow' }));
    for (let i = 0; i < 3 * compaction.least; i++) {
      const event = f.add(published(`e${i}`));
      f.add(acquired({ event, worker: 'A', leaseMs: 60_000 }));
      f.add(result({ event, worker: 'A' }));
    }
    const q = f.state.queues.get(Q)!;
    expect(q.base).toBe(0);
    expect(floorOf(f.state, q)).toBe(0);
  });
});

describe('compaction changes no answer of the dispatch view', () => {
  /** Every answer the views and the dispatch read, of the events `held` (by queue). */
  function answers(state: DispatchState, held: DispatchState): unknown {
    const subs = [...state.subscribers.values()].map((sub) => {
      const q = state.queues.get(sub.reg.queue);
      const { broadcast: _b, ...rest } = sub;
      const events = Array.from(held.queues.get(sub.reg.queue)?.positions ?? []);
      const workers = [...sub.broadcast.keys()].sort();
      const competing = sub.reg.delivery === 'competing';
      return {
        ...rest,
        progress: subscriberProgress(state, sub, state.time),
        oldest: competing ? oldestOpen(sub, q) : undefined,
        done: q ? workers.map((w) => events.map((p) => broadcastDone(sub, q, w, p))) : [],
      };
    });
    const queues = [...state.queues.values()].map((q) => ({
      name: q.name,
      count: eventCount(q),
      endedAt: q.endedAt,
      interruptedAt: q.interruptedAt,
      keys: q.keys,
      keyUntil: q.keyUntil,
      reserved: [...q.reserved].map((s) => s.id),
    }));
    const { queues: _q, subscribers: _s, ...rest } = state;
    return { rest, subs, queues };
  }

  /** The held part of each queue's index, compared with the same part of the uncompacted one. */
  function heldEqual(compacted: DispatchState, whole: DispatchState): void {
    for (const q of compacted.queues.values()) {
      const full = whole.queues.get(q.name)!;
      expect(Array.from(q.positions)).toEqual(Array.from(full.positions.subarray(q.base)));
      expect(Array.from(q.availableAt)).toEqual(Array.from(full.availableAt.subarray(q.base)));
      for (const [p, priority] of q.priorities) expect(full.priorities.get(p)).toBe(priority);
      for (const [p, priority] of full.priorities) {
        if (p >= (q.positions[0] ?? Infinity)) expect(q.priorities.get(p)).toBe(priority);
      }
    }
  }

  it('a fold that drops finished events at every chance answers as one that never does', () => {
    // A subscriber registered again after its deletion starts at the base (what all finished is gone),
    // and a broadcast worker first seen after a compaction too: by design, so left out here.
    const noRegistrationsAfterStart = histories.map((log) =>
      log.filter((r) => r.type !== 'subscriber.registered' || r.position <= 2),
    );
    let compactedRuns = 0;
    fc.assert(
      fc.property(noRegistrationsAfterStart, (log) => {
        Object.assign(compaction, { every: Infinity, least: Infinity });
        const whole = dispatchFold.initial();
        for (const r of log) dispatchFold.evolve(whole, r);
        Object.assign(compaction, { every: 1, least: 1 });
        const compacted = dispatchFold.initial();
        for (const r of log) {
          if (late(compacted, r)) return; // see above
          dispatchFold.evolve(compacted, r);
        }
        if (compacted.queues.get(Q)?.base) compactedRuns++;
        heldEqual(compacted, whole);
        expect(answers(compacted, compacted)).toStrictEqual(answers(whole, compacted));
      }),
      { numRuns: 500 },
    );
    expect(compactedRuns).toBeGreaterThan(15); // not vacuous: about one history in twelve compacts
  });
});

/** True when `r` is a broadcast result of a worker the fold had not seen, after a compaction. */
function late(state: DispatchState, r: StoredRecord): boolean {
  const q = state.queues.get(Q);
  const sub = state.subscribers.get(BROADCAST);
  if (!q || !sub || q.base === 0 || r.type !== 'result.recorded') return false;
  const { workerId, subscriberId } = r as StoredRecord & { workerId: string; subscriberId: string };
  return subscriberId === BROADCAST && sub.broadcast.size > 0 && !sub.broadcast.has(workerId);
}

describe('broadcast workers that left long ago', () => {
  it('are forgotten an hour after they died: their progress no longer holds the queue’s events', () => {
    const f = new Folder();
    f.add(registered({ delivery: 'broadcast', subscriberId: BROADCAST }));
    // Ten generations of a worker that restarts with a new id (the default), each living ~1.4 h.
    for (let generation = 0; generation < 10; generation++) {
      const id = `W${generation}`;
      f.add({ ...worker('worker.joined', id, 6000), subscribers: [BROADCAST] });
      // A new worker handles every event the queue holds (a broadcast worker sees them all), then new ones.
      for (const event of Array.from(f.state.queues.get(Q)?.positions ?? [])) {
        f.add(result({ event, worker: id, subscriberId: BROADCAST }));
      }
      for (let i = 0; i < 5000; i++) {
        const event = f.add(published(`e${generation}-${i}`), 1000);
        f.add(result({ event, worker: id, subscriberId: BROADCAST }));
      }
      f.add(worker('worker.left', id));
    }
    const q = f.state.queues.get(Q)!;
    const sub = f.state.subscribers.get(BROADCAST)!;
    expect(sub.broadcast.size).toBeLessThanOrEqual(2); // the last generations only
    expect(f.state.workers.size).toBeLessThanOrEqual(2);
    expect(q.base).toBeGreaterThan(40_000);
    expect(q.positions.length).toBeLessThan(2 * compaction.least + compaction.every);
  });
});
